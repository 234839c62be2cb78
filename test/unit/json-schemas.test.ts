import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { FAILURES, JSON_COMMANDS, jsonSchemaFiles } from '../../src/cli/json-output.js';
import { runCli } from '../../src/cli/program.js';
import { ROOT } from '../support/cli.js';
import { loadOutputSchemas, SCHEMA_DIR } from '../support/output-schemas.js';

const validator = loadOutputSchemas();

/** Every `readonly code = '…'` of an error class in the shipped library. */
function errorCodesInSource(): string[] {
  const codes: string[] = [];
  for (const top of ['src', 'phases']) {
    for (const entry of readdirSync(path.join(ROOT, top), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
      const text = readFileSync(path.join(entry.parentPath, entry.name), 'utf8');
      for (const m of text.matchAll(/readonly code = '([a-z_]+)'/g)) codes.push(m[1]!);
    }
  }
  return codes;
}

/** The commands `pgshift --help` lists. */
async function cliCommands(): Promise<string[]> {
  let out = '';
  await runCli(['--help'], { stdout: (t) => (out += t), stderr: () => undefined, env: {} });
  const section = out.slice(out.indexOf('Commands:'));
  return [...section.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]!).filter((c) => c !== 'help');
}

const codeOf = (f: (typeof FAILURES)[number]) => f.shape.error.value;
const exitOf = (f: (typeof FAILURES)[number]) => f.shape.exitCode.value;

// ajv compiles each schema on its first use: seconds on a loaded machine, past the 5 s default.
describe('the shipped JSON Schemas of --json output', { timeout: 120_000 }, () => {
  test('schemas/ holds exactly what src/cli/json-output.ts defines (run `npm run schemas` after changing it)', () => {
    const expected = jsonSchemaFiles();
    const files = readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.schema.json'));
    expect(files.sort()).toEqual(Object.keys(expected).sort());
    for (const f of files) expect(JSON.parse(readFileSync(path.join(SCHEMA_DIR, f), 'utf8')), f).toEqual(expected[f]);
  });

  test('every command of the CLI has a schema', async () => {
    expect((await cliCommands()).sort()).toEqual([...JSON_COMMANDS].sort());
    expect(validator.commands.sort()).toEqual([...JSON_COMMANDS].sort());
  });

  test('every error class of the library has its failure shape, and the docs list each code with its exit code', () => {
    const defined = FAILURES.map(codeOf);
    expect(new Set(defined).size).toBe(defined.length);
    expect([...new Set(errorCodesInSource())].sort()).toEqual(defined.filter((c) => c !== 'failure').sort());
    const docs = readFileSync(path.join(ROOT, 'docs/cli.md'), 'utf8');
    const table = docs.slice(docs.indexOf('### Error codes'));
    const documented = new Map([...table.matchAll(/^\| `([a-z_]+)` \| (\d) \|/gm)].map((m) => [m[1]!, Number(m[2])]));
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(FAILURES.map((f) => [codeOf(f), exitOf(f)])));
  });

  const phaseFailed = {
    ok: false,
    exitCode: 1,
    error: 'phase_failed',
    message: '0001_users_email: backfill failed: new row for relation "users" violates check constraint "no_x"',
    migration: '0001_users_email',
    phase: 'backfill',
    sqlstate: '23514',
    constraint: 'no_x',
  };

  test('a failure document with the facts the docs promise passes; one missing them does not', () => {
    expect(validator.validate('advance', phaseFailed)).toEqual([]);
    for (const key of ['migration', 'phase', 'message', 'exitCode']) {
      const { [key]: _dropped, ...missing } = phaseFailed as Record<string, unknown>;
      expect(validator.validate('advance', missing), `without ${key}`).not.toEqual([]);
      expect(validator.validate('error', missing), `without ${key}`).not.toEqual([]);
    }
    // A network error's code is not a SQLSTATE; an exit code that is not the code's; an unknown code.
    expect(validator.validate('status', { ...phaseFailed, sqlstate: 'ECONNREFUSED' })).not.toEqual([]);
    expect(validator.validate('status', { ...phaseFailed, exitCode: 3 })).not.toEqual([]);
    expect(validator.validate('status', { ...phaseFailed, error: 'something_else' })).not.toEqual([]);
    expect(validator.validate('error', { ok: false, exitCode: 3, error: 'expectation_failed', message: 'm', mismatches: [] })).not.toEqual(
      [],
    );
  });

  test('a result document with a field its schema does not know, or without one it promises, is refused', () => {
    const rollback = { ok: true, id: '0001_users_email', from: 'dual-write', state: 'pending', statements: 4 };
    expect(validator.validate('rollback', rollback)).toEqual([]);
    expect(validator.validate('rollback', { ...rollback, extra: 1 })).not.toEqual([]);
    expect(validator.validate('rollback', { ...rollback, ok: false })).not.toEqual([]);
    const { statements: _s, ...short } = rollback;
    expect(validator.validate('rollback', short)).not.toEqual([]);
    const step = { id: '0.expand.add-column', lock: 'ACCESS EXCLUSIVE', seconds: 0.002, skipped: false };
    const advance = (s: unknown) => ({
      ok: true,
      dryRun: false,
      migrations: [
        {
          id: 'a',
          from: 'pending',
          state: 'expand',
          ran: [{ phase: 'expand', seconds: 0.01, details: { statements: 1, skipped: [], steps: [s] } }],
          next: 'dual-write',
          complete: false,
        },
      ],
    });
    expect(validator.validate('advance', advance(step))).toEqual([]);
    expect(validator.validate('advance', advance({ ...step, lock: 'BIG' }))).not.toEqual([]);
    const { skipped: _k, ...unmarked } = step;
    expect(validator.validate('advance', advance(unmarked))).not.toEqual([]);
  });
});
