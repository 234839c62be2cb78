import { afterAll, describe, expect, test } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { batchesPastLimit, lsnBytes, readTrace } from '../support/standby.js';
import { skipReason, standby } from './env.js';
import { expectFinishedAndReplicated, expectHeld, prepare } from './scenario.js';
import { until } from '../support/wait.js';

const LIMIT_BYTES = 512 * 1024;

describe.skipIf(!standby)(`replay paused on the standby, lag read on the primary in bytes${skipReason}`, () => {
  const db = useDatabase();
  const id = '20261204_paused_bytes';
  afterAll(async () => {
    await standby?.resumeReplay();
  });

  test('holds within one batch of the byte limit, says why, resumes when replay does, and the standby ends with the same rows', async () => {
    const sb = standby!;
    const dir = await prepare(db, sb, id);
    await sb.pauseReplay();
    const [paused] = await sb.query<{ lsn: string }>('SELECT pg_last_wal_replay_lsn()::text AS lsn');
    const replayed = lsnBytes(paused!.lsn);
    // The lag is read on the primary, from the replay position the standby last reported there.
    // Before that report names the paused position, the primary may still see an older one (the
    // standby reports it when WAL arrives, and every wal_receiver_status_interval when idle) and
    // count WAL the standby has in fact replayed: wait for it, sending a little WAL to prompt it.
    await until(
      async () => {
        const [seen] = await db.query<{ ok: boolean }>(
          `SELECT bool_and(replay_lsn >= $1::pg_lsn) AS ok FROM pg_stat_replication WHERE state <> 'backup'`,
          [paused!.lsn],
        );
        if (seen?.ok) return true;
        await db.query('SELECT pg_current_xact_id()');
        return false;
      },
      'the primary to see the paused replay position',
      60_000,
    );

    const run = spawnCli(
      ['advance', '--batch-size', '300', '--batch-delay', '50', '--max-lag', 'off', '--max-lag-bytes', `${LIMIT_BYTES}`],
      { url: db.url, dir },
    );
    const reason = await expectHeld(db, dir, id, /replica lag .* of WAL .*max 512 kB/);
    expect(reason).toContain('standby "');

    const trace = await readTrace(db.pool);
    const past = batchesPastLimit(trace, (r) => lsnBytes(r.lsn) - replayed > LIMIT_BYTES)!;
    expect(past.held.batches).toBeGreaterThan(0);
    expect(past.past).toBeLessThanOrEqual(1);
    console.log(
      `held after ${past.held.batches} batches (${past.past} past the limit): ${Math.round((lsnBytes(past.held.lsn) - replayed) / 1024)} kB behind, limit ${LIMIT_BYTES / 1024} kB; crossing at batch ${past.crossing?.batches ?? 'none (held early)'}`,
    );

    await sb.resumeReplay();
    await expectFinishedAndReplicated(db, sb, id, run.done);
  });
});
