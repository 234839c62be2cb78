import { readdirSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { Pgshift, tuneSettingProblem } from '../../src/index.js';

async function run(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: {} });
  return { code, stdout, stderr };
}

const COMMAND_FILES = readdirSync(new URL('../../src/cli/commands/', import.meta.url)).filter((f) => f.endsWith('.ts'));

describe('one file per command', () => {
  test('the commands directory holds every command', () => {
    expect(COMMAND_FILES.length).toBeGreaterThan(0);
  });

  test.each(COMMAND_FILES.map((f) => f.replace(/\.ts$/, '')))('src/cli/commands/%s.ts is registered (its --help works)', async (name) => {
    const r = await run([name, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: pgshift ${name}`);
  });

  test('--help lists each command file once', async () => {
    const r = await run(['--help']);
    const commands = r.stdout.slice(r.stdout.indexOf('Commands:'), r.stdout.indexOf('Exit codes:'));
    const listed = [...commands.matchAll(/^ {2}([a-z-]+)\b/gm)].map((m) => m[1]).filter((c) => c !== 'help');
    expect(listed.sort()).toEqual(COMMAND_FILES.map((f) => f.replace(/\.ts$/, '')).sort());
  });

  test('an error before the library opens is still one JSON document with --json', async () => {
    const r = await run(['--json', 'advance', '--timeout', '5']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, exitCode: 2, error: 'invalid_argument', message: '--timeout needs --wait' });
  });
});

describe('tune: one check of a tuned value for the CLI and the API', () => {
  const cases: [string, string, unknown][] = [
    ['--pause-ratio', 'pauseRatio', -1],
    ['--pause-ratio', 'pauseRatio', 1001],
    ['--target-ms', 'targetMs', 0],
    ['--max-rate', 'maxRate', 2.5],
    ['--batch-size', 'batchSize', 0],
  ];

  test.each(cases)('%s %s', async (flag, setting, value) => {
    const problem = tuneSettingProblem(setting, value, flag);
    expect(problem).toMatch(new RegExp(`^${flag} must be`));
    const cli = await run(['tune', 'm', flag, String(value)]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain(problem);
    // The API refuses the same value with the same words, named after the setting; before any connection.
    const pg = new Pgshift({ databaseUrl: 'postgres://127.0.0.1:1/none', migrations: [] });
    await expect(pg.tune('m', { [setting]: value })).rejects.toThrow(tuneSettingProblem(setting, value)!);
    await pg.close();
  });

  test('accepted values, and none (null) where a setting can be off', () => {
    expect(tuneSettingProblem('pauseRatio', 0)).toBeNull();
    expect(tuneSettingProblem('pauseRatio', 1000)).toBeNull();
    expect(tuneSettingProblem('maxRate', null)).toBeNull();
    expect(tuneSettingProblem('batchSize', null)).toBeNull();
    expect(tuneSettingProblem('targetMs', null)).toBe('targetMs must be a positive integer');
    expect(tuneSettingProblem('workers', 2)).toBe('workers cannot be tuned live');
  });
});
