import { afterAll, describe, expect, test } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { batchesPastLimit, readTrace } from '../support/standby.js';
import { skipReason, standby } from './env.js';
import { expectFinishedAndReplicated, expectHeld, prepare, progress } from './scenario.js';
import { until } from '../support/wait.js';
import type { TestDatabase } from '../support/database.js';

const LIMIT_MS = 1500;

/** How many rows the trace (test/support/standby.ts installTrace) holds so far. */
async function traceLength(db: TestDatabase): Promise<number> {
  const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM lag_trace');
  return row!.n;
}

describe.skipIf(!standby)(`replay paused on the standby, lag read there (--replica-url) in time${skipReason}`, () => {
  const db = useDatabase();
  const id = '20261204_paused_time';
  afterAll(async () => {
    await standby?.resumeReplay();
  });

  test('holds within one batch of --max-lag, says why, resumes when replay does, and the standby ends with the same rows', async () => {
    const sb = standby!;
    const dir = await prepare(db, sb, id);
    const run = spawnCli(
      [
        'advance',
        '--batch-size',
        '300',
        '--batch-delay',
        '100',
        '--max-lag',
        `${LIMIT_MS}`,
        '--max-lag-bytes',
        'off',
        '--replica-url',
        sb.urlFor(db.name),
      ],
      { url: db.url, dir },
    );
    // Pause once batches flow (the orchestrator's start-up is no part of the lag): from here the
    // standby's lag is the time since the last commit it replayed.
    await until(async () => Number((await progress(db, id))?.batches ?? 0) >= 1, 'the first batch', 120_000);
    // A hold before this point is none of this test's business: on a primary that was idle before
    // the run, the first check may hold for a moment (the standby's last message from the primary
    // is old while the orchestrator's own first writes are not sent yet). The hold under test is
    // the first one traced after the pause was asked for.
    const beforePause = await traceLength(db);
    await sb.pauseReplay();
    const [last] = await sb.query<{ ts: Date }>('SELECT pg_last_xact_replay_timestamp() AS ts');
    const replayedAt = last!.ts.getTime();

    const reason = await expectHeld(db, dir, id, /replica lag \d+ ms .*max 1500 ms/);
    expect(reason).toContain('replay is paused');

    const trace = await readTrace(db.pool);
    const earlier = trace.slice(0, beforePause).filter((r) => r.hold_reason);
    if (earlier.length) console.log(`held before the pause (not under test): ${earlier.map((r) => r.hold_reason).join('; ')}`);
    const past = batchesPastLimit(trace.slice(beforePause), (r) => r.at.getTime() - replayedAt > LIMIT_MS);
    expect(past, 'a hold after replay was paused').not.toBeNull();
    // At most one batch committed after the lag crossed the limit.
    expect(past!.past).toBeLessThanOrEqual(1);
    console.log(
      `held after ${past!.held.batches} batches (${past!.past} past the limit) at ${past!.held.at.getTime() - replayedAt} ms behind, limit ${LIMIT_MS} ms; crossing at batch ${past!.crossing?.batches ?? 'none (held early)'}`,
    );

    await sb.resumeReplay();
    await expectFinishedAndReplicated(db, sb, id, run.done);
  });
});
