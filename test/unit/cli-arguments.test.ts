import { describe, expect, test } from 'vitest';
import { runCli } from '../../src/cli/program.js';

async function run(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: {} });
  return { code, stdout, stderr };
}

describe('CLI arguments (no database needed)', () => {
  test('--help documents the exit codes and exits 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Exit codes:');
    expect(r.stdout).toMatch(/4 {2}busy: another pgshift orchestrator holds this database's lock/);
  });

  test('bad arguments exit 2', async () => {
    expect((await run(['advance', '--to', 'nowhere'])).code).toBe(2);
    expect((await run(['advance', '--batch-size', '-5'])).code).toBe(2);
    expect((await run(['frobnicate'])).code).toBe(2);
  });

  test('no database: exit 2 with a clear message', async () => {
    const r = await run(['status']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no database given: pass --database-url or set DATABASE_URL');
  });
});
