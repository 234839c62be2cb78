import { loadParser } from '../../src/sql/parser.js';

// Unit tests call the synchronous plan and step functions directly, as a library user would after
// awaiting loadParser() once.
await loadParser();
