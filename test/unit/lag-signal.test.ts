import { describe, expect, test } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { lagGrowth, lagHold, missingStandbys, predictLag } from '../../src/backfill/signals.js';

const limits = { maxLagMs: 1000, maxLagBytes: 1024 * 1024 };

describe('the lag signal (no database needed)', () => {
  test('a reading over either limit holds, naming the figure and the limit', () => {
    const reading = { ms: 1200, bytes: 10, detail: 'standby "b1"' };
    expect(lagHold(limits, reading, reading)).toBe('replica lag 1200 ms > max 1000 ms on standby "b1"');
    const bytes = { ms: 0, bytes: 3 * 1024 * 1024, detail: 'standby' };
    expect(lagHold(limits, bytes, bytes)).toBe('replica lag 3.0 MB of WAL > max 1.0 MB (--max-lag-bytes) on standby');
    expect(lagHold({ maxLagMs: null, maxLagBytes: null }, bytes, bytes)).toBeNull();
  });

  test('growth seen while batches ran predicts the next batch: holds early, before the limit', () => {
    const previous = { at: 1000, ms: 100, bytes: 600 * 1024 };
    const current = { at: 1200, ms: 300, bytes: 800 * 1024 };
    const growth = lagGrowth(previous, current)!;
    expect(growth.bytes).toBeCloseTo(1024, 6);
    const predicted = predictLag(current, growth, 300);
    expect(predicted.bytes).toBeGreaterThan(limits.maxLagBytes);
    expect(lagHold(limits, { ms: 300, bytes: 800 * 1024, detail: '' }, predicted)).toMatch(
      /^replica lag 800 kB of WAL is growing: would pass max 1.0 MB during the next batch/,
    );
    // Shrinking lag predicts nothing worse than now.
    const shrinking = lagGrowth(current, { at: 1400, ms: 50, bytes: 100 })!;
    expect(predictLag({ at: 1400, ms: 50, bytes: 100 }, shrinking, 1000)).toEqual({ ms: 50, bytes: 100 });
  });

  test('missing standbys hold, named or counted', () => {
    expect(missingStandbys(['a', 'b'], ['a'], 2, 'x')).toBeNull();
    expect(missingStandbys(['b'], ['a', 'b'], 0, 'x')).toBe(
      'required standby "a" not attached to the primary (pg_stat_replication has "b"; --require-standby)',
    );
    expect(missingStandbys([], [], 1, 'attached when the backfill started')).toMatch(
      /^0 standby\(s\) attached to the primary, fewer than the 1 attached when the backfill started/,
    );
    expect(missingStandbys([], [], 0, 'x')).toBeNull();
  });

  test('--max-lag-bytes takes sizes with units or off; nonsense exits 2 naming the option', async () => {
    let stderr = '';
    const run = (args: string[]) => runCli(args, { stdout: () => undefined, stderr: (t) => (stderr += t), env: {} });
    expect(await run(['advance', '--max-lag-bytes', '12parsecs'])).toBe(2);
    expect(stderr).toContain('--max-lag-bytes must be a positive size in bytes');
    stderr = '';
    expect(await run(['tune', 'm', '--max-lag-bytes', '0'])).toBe(2);
    expect(stderr).toContain('--max-lag-bytes');
    stderr = '';
    expect(await run(['advance', '--min-standbys', '-1'])).toBe(2);
    expect(stderr).toContain('--min-standbys');
    // Valid sizes get past parsing (and stop at the missing database, exit 2 for that reason instead).
    stderr = '';
    expect(await run(['advance', '--max-lag-bytes', '64MB', '--require-standby', 'a', '--require-standby', 'b'])).toBe(2);
    expect(stderr).toContain('no database given');
  });
});
