import { z } from 'zod';
import { MAX_IDENTIFIER_BYTES } from '../sql/ident.js';

/** Error text for a missing value vs a value of the wrong type. */
export function required(what: string) {
  return (issue: { input?: unknown }) => (issue.input === undefined ? 'required' : `expected ${what}`);
}

/** A PostgreSQL identifier as the user means it (unquoted form; it is quoted when rendered). */
export const identifier = z
  .string({ error: required('a string') })
  .min(1, { error: 'must not be empty' })
  .refine((s) => Buffer.byteLength(s, 'utf8') <= MAX_IDENTIFIER_BYTES, {
    error: `longer than ${MAX_IDENTIFIER_BYTES} bytes (PostgreSQL would truncate it)`,
  })
  .refine((s) => !s.includes('\0'), { error: 'contains a NUL character' });

/** A SQL fragment written by the user (an expression, a type); checked against the server at inspect. */
export const sqlText = z
  .string({ error: required('a string of SQL') })
  .min(1, { error: 'must not be empty' })
  .refine((s) => !s.includes('\0'), { error: 'contains a NUL character' });

/** Fields every table operation has. */
export const tableFields = {
  schema: identifier.default('public'),
  table: identifier,
};
