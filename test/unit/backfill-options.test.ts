import { Command } from 'commander';
import { describe, expect, test } from 'vitest';
import { addBackfillOptions, backfillSettings, tuneChange, addTuneOptions } from '../../src/cli/backfill-options.js';
import { runCli } from '../../src/cli/program.js';

async function run(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: {} });
  return { code, stdout, stderr };
}

/** The long flags a command's --help lists, in order. */
async function flags(command: string[]): Promise<string[]> {
  const help = await run([...command, '--help']);
  expect(help.code).toBe(0);
  return [...help.stdout.matchAll(/^ {2}(?:-\w, )?(--[a-z-]+)/gm)].map((m) => m[1]!);
}

const TARGET_OPTIONS = ['--targets', '--targets-command', '--shard', '--concurrency', '--on-failure'];

describe('backfill options: one definition for advance and fleet advance, tune and fleet tune', () => {
  test('fleet advance takes every backfill option of advance but --replica-url (a per-target replicaUrl instead)', async () => {
    const single = await flags(['advance']);
    const fleet = await flags(['fleet', 'advance']);
    const backfill = single.slice(single.indexOf('--batch-size'), single.indexOf('--max-attempts') + 1);
    expect(backfill).toEqual(expect.arrayContaining(['--require-standby', '--min-standbys', '--vacuum-every', '--reindex-after']));
    expect(fleet.slice(fleet.indexOf('--batch-size'), fleet.indexOf('--max-attempts') + 1)).toEqual(
      backfill.filter((f) => f !== '--replica-url'),
    );
  });

  test('fleet tune takes exactly the settings of tune', async () => {
    const single = await flags(['tune']);
    const fleet = await flags(['fleet', 'tune']);
    expect(fleet.filter((f) => !TARGET_OPTIONS.includes(f))).toEqual(single);
  });

  test('the parsed values map to the engine settings: sizes in bytes, off as null, --reindex-after alone as 1.5', () => {
    const cmd = addBackfillOptions(new Command().exitOverride(), { replicaUrl: true });
    cmd.parse(
      [
        '--max-lag-bytes',
        '32MB',
        '--vacuum-every',
        'off',
        '--reindex-after',
        '--batch-delay',
        '5',
        '--require-standby',
        'a',
        '--require-standby',
        'b',
        '--min-standbys',
        '0',
      ],
      { from: 'user' },
    );
    expect(Object.fromEntries(Object.entries(backfillSettings(cmd.opts())).filter(([, v]) => v !== undefined))).toEqual({
      maxLagBytes: 32 * 1024 * 1024,
      vacuumEvery: null,
      reindexAfter: 1.5,
      delayMs: 5,
      requireStandbys: ['a', 'b'],
      minStandbys: 0,
    });
    const tune = addTuneOptions(new Command().exitOverride());
    tune.parse(['--max-lag-bytes', '512kB', '--batch-size', 'auto'], { from: 'user' });
    expect(Object.fromEntries(Object.entries(tuneChange(tune.opts())).filter(([, v]) => v !== undefined))).toEqual({
      maxLagBytes: 512 * 1024,
      batchSize: null,
    });
  });

  test.each([
    ['--max-lag-bytes', '12XB', '--max-lag-bytes must be a positive size in bytes'],
    ['--batch-delay', '1.5', '--batch-delay must be a non-negative integer'],
    ['--vacuum-every', '0', '--vacuum-every must be a percentage from 1 to 100'],
    ['--reindex-after', '1', '--reindex-after must be a growth factor above 1'],
    ['--min-standbys', '-1', '--min-standbys must be a non-negative integer'],
    ['--hold-on-vacuum', 'sometimes', "option '--hold-on-vacuum <which>' argument 'sometimes' is invalid"],
  ])('%s %s: exit 2 and one JSON document naming the option, from advance and fleet advance alike', async (option, value, message) => {
    for (const command of [['advance'], ['fleet', 'advance', '--targets', 'unused.json']]) {
      const r = await run(['--json', ...command, option, value]);
      expect(r.code, command.join(' ')).toBe(2);
      const doc = JSON.parse(r.stdout) as { ok: boolean; exitCode: number; error: string; message: string };
      expect(doc).toMatchObject({ ok: false, exitCode: 2, error: 'invalid_argument' });
      expect(doc.message).toContain(message);
    }
  });

  test('tune and fleet tune check a value alike (the library check)', async () => {
    for (const command of [
      ['tune', 'm'],
      ['fleet', 'tune', '--targets', 'unused.json'],
    ]) {
      const r = await run(['--json', ...command, '--pause-ratio', '5000']);
      expect(r.code, command.join(' ')).toBe(2);
      expect(JSON.parse(r.stdout)).toMatchObject({
        exitCode: 2,
        message: expect.stringContaining('--pause-ratio must be a number from 0 to 1000'),
      });
    }
  });
});
