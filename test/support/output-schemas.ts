import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { ROOT } from './cli.js';

export const SCHEMA_DIR = path.join(ROOT, 'schemas');

export interface OutputValidator {
  /** Commands with a schema (`<command>.schema.json`), the failure document's `error` excluded. */
  commands: string[];
  /** The problems ajv finds in `doc` against `<command>.schema.json`, as readable lines; [] when valid. */
  validate(command: string, doc: unknown): string[];
}

/** The shipped schemas/ files, compiled with ajv (draft 2020-12, strict). */
export function loadOutputSchemas(): OutputValidator {
  // Formats (date-time) are checked by the patterns the schemas carry beside them.
  const ajv = new Ajv2020({ strict: true, allErrors: true, validateFormats: false });
  const files = readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.schema.json'));
  for (const f of files) ajv.addSchema(JSON.parse(readFileSync(path.join(SCHEMA_DIR, f), 'utf8')) as object);
  const commands = files.map((f) => f.replace(/\.schema\.json$/, '')).filter((c) => c !== 'error');
  return {
    commands,
    validate(command, doc) {
      const check = ajv.getSchema(`${command}.schema.json`);
      if (!check) return [`no schema ${command}.schema.json in ${SCHEMA_DIR}`];
      if (check(doc)) return [];
      return (check.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
    },
  };
}
