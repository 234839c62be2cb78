// Writes schemas/<command>.schema.json from the definitions in src/cli/json-output.ts (`npm run schemas`).
// The files are committed and shipped; test/unit/json-schemas.test.ts fails when they are stale.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonSchemaFiles } from '../src/cli/json-output.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'schemas');
mkdirSync(dir, { recursive: true });
for (const old of readdirSync(dir).filter((f) => f.endsWith('.schema.json'))) rmSync(path.join(dir, old));
const files = jsonSchemaFiles();
for (const [name, schema] of Object.entries(files)) writeFileSync(path.join(dir, name), `${JSON.stringify(schema, null, 2)}\n`);
console.log(`wrote ${Object.keys(files).length} schema(s) to ${path.relative(process.cwd(), dir) || '.'}`);
