import { describe, expect, test } from 'vitest';
import { createBackfillTable, useBackfillAtDualWrite } from '../support/backfill.js';
import { cli } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { planDir, renamePlan } from '../support/plans.js';
import { until } from '../support/wait.js';

describe('the byte-lag setting and the standby requirements, without a standby', () => {
  const db = useDatabase();
  const id = '20261204_lag_settings';
  const orders = useBackfillAtDualWrite(db, { id, table: 'orders', from: 'ref', to: 'reference', rows: 2000, analyze: false });
  const run = orders.run;

  test('with no standby attached at the start, the default requires none; the run records --max-lag-bytes; tune changes it live and status shows both', async () => {
    const [attached] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_replication`);
    // The embedded server and CI's plain pass have no standby; with one attached this test proves nothing.
    expect(attached!.n).toBe(0);
    const backfill = await run('advance', '--max-lag-bytes', '1MB', '--batch-size', '500', '--json');
    expect(backfill.code, backfill.stderr).toBe(0);

    const tuned = await run('tune', id, '--max-lag-bytes', '32MB', '--json');
    expect(tuned.code, tuned.stderr).toBe(0);
    expect(tuned.json()).toMatchObject({ settings: { maxLagBytes: 32 * 1024 * 1024 } });

    const status = await run('status', id, '--json');
    expect(status.json()).toMatchObject({
      migrations: [
        {
          state: 'backfill',
          backfillSummary: {
            finished: true,
            settings: { maxLagBytes: 1024 * 1024, requireStandbys: [], minStandbys: null },
            control: { settings: { maxLagBytes: 32 * 1024 * 1024 } },
          },
        },
      ],
    });
    expect((await run('tune', id, '--max-lag-bytes', 'off', '--json')).json()).toMatchObject({ settings: { maxLagBytes: null } });
  });

  test('--require-standby that is not attached holds before the first batch, naming it; status --json says why', async () => {
    await createBackfillTable(db, { table: 'items', from: 'ref', rows: 500, analyze: false });
    const id2 = '20261204_lag_settings_b';
    const dir2 = planDir({
      ...renamePlan(id, { table: 'orders', from: 'ref', to: 'reference' }),
      ...renamePlan(id2, { table: 'items', from: 'ref', to: 'reference' }),
    });
    expect((await cli(['advance', id2, '--to', 'dual-write'], { url: db.url, dir: dir2 })).code).toBe(0);
    const stop = new AbortController();
    const running = cli(['advance', id2, '--require-standby', 'replica_east', '--json'], { url: db.url, dir: dir2, signal: stop.signal });
    const held = await until(
      async () =>
        (
          await db.query<{ hold_reason: string | null; rows_done: string }>(
            `SELECT hold_reason, rows_done FROM pgshift.backfill_progress WHERE migration_id = $1`,
            [id2],
          )
        )[0]?.hold_reason,
      'the hold',
    );
    expect(held).toBe('required standby "replica_east" not attached to the primary (pg_stat_replication has none; --require-standby)');
    const status = await cli(['status', id2, '--json'], { url: db.url, dir: dir2 });
    expect(status.json()).toMatchObject({ migrations: [{ backfillSummary: { holdReason: held, rowsDone: 0 } }] });
    stop.abort();
    const stopped = await running;
    expect(stopped.code).not.toBe(0);
    expect(stopped.stdout).not.toBe('');
  });
});
