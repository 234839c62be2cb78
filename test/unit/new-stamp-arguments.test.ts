import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { phasesToStamp } from '../../src/stamp.js';

async function run(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: {} });
  return { code, stdout, stderr };
}

describe('pgshift new (no database)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgshift-new-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('writes the file without catalog facts and says so', async () => {
    const r = await run([
      '--dir',
      dir,
      'new',
      'add_users_nickname',
      '--format',
      'json',
      '--recipe',
      'addColumn',
      '--table',
      'users',
      '--column',
      'nickname',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('no database given: written without catalog facts');
    expect(r.stdout).toContain('fill in: <type>');
    const [file] = readdirSync(dir);
    expect(file).toMatch(/^\d{14}_add_users_nickname\.json$/);
    expect(JSON.parse(readFileSync(path.join(dir, file!), 'utf8'))).toEqual({
      id: file!.replace(/\.json$/, ''),
      description: 'add users nickname',
      operations: [{ kind: 'addColumn', schema: 'public', table: 'users', column: 'nickname', type: '<type>' }],
    });
  });

  test('bad input exits 2: a name that makes no valid id, an unknown recipe, --column without --table, --table without --recipe', async () => {
    const bad = await run(['--dir', dir, 'new', 'rename users/email']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('name "rename users/email" does not make a valid migration id');
    expect((await run(['--dir', dir, 'new', 'x', '--recipe', 'frobnicate'])).code).toBe(2);
    expect((await run(['--dir', dir, 'new', 'x', '--recipe', 'dropColumn', '--column', 'c'])).stderr).toContain('--column needs --table');
    expect((await run(['--dir', dir, 'new', 'x', '--table', 't'])).stderr).toContain('give --recipe <operation> too');
    expect((await run(['--dir', dir, 'new', 'x', '--format', 'yaml'])).code).toBe(2);
  });

  test('--help lists the recipes', async () => {
    const r = await run(['new', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--recipe <operation>.*choices: "renameColumn",\s+"dropColumn"/s);
  });
});

describe('which phases a stamp records', () => {
  test('the next phase, or every phase up to --through; done or out of order is refused', () => {
    expect(phasesToStamp('m', 'pending', { phase: 'expand' })).toEqual(['expand']);
    expect(phasesToStamp('m', 'expand', { through: 'backfill' })).toEqual(['dual-write', 'backfill']);
    expect(() => phasesToStamp('m', 'expand', { phase: 'backfill' })).toThrow(
      'm: cannot stamp backfill before dual-write (now: expand): phases are stamped in order; stamp dual-write first, or use --through backfill',
    );
    expect(() => phasesToStamp('m', 'backfill', { through: 'dual-write' })).toThrow('dual-write is already done (now: backfill)');
    expect(() => phasesToStamp('m', 'pending', {})).toThrow('stamp needs exactly one of --phase <phase> or --through <phase>');
  });

  test('an unknown phase exits 2 before any database is needed', async () => {
    const r = await run(['stamp', 'm', '--phase', 'verify']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown phase "verify"');
  });
});
