import { afterAll, describe, expect, test } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { skipReason, standby } from './env.js';
import { expectFinishedAndReplicated, expectHeld, prepare, progress } from './scenario.js';
import { until } from '../support/wait.js';

describe.skipIf(!standby)(`a standby stopped during the backfill${skipReason}`, () => {
  const db = useDatabase();
  const id = '20261204_stopped';
  let stopped = false;
  afterAll(async () => {
    if (stopped) await standby?.start();
  });

  test('by default (lag read on the primary): a standby that was attached at the start and goes away holds, naming it; resumes when it is back', async () => {
    const sb = standby!;
    const dir = await prepare(db, sb, id);
    const [attached] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_replication WHERE state = 'streaming'`);
    expect(attached!.n).toBeGreaterThanOrEqual(1);
    const run = spawnCli(['advance', '--batch-size', '300', '--batch-delay', '50'], { url: db.url, dir });
    await until(async () => Number((await progress(db, id))?.batches ?? 0) >= 2, 'two batches', 120_000);

    await sb.stop();
    stopped = true;
    await expectHeld(
      db,
      dir,
      id,
      new RegExp(
        `${attached!.n - 1} standby\\(s\\) attached to the primary, fewer than the ${attached!.n} attached when the backfill started`,
      ),
    );

    await sb.start();
    stopped = false;
    await expectFinishedAndReplicated(db, sb, id, run.done);
  });
});
