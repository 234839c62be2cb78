import pg from 'pg';
import { describe, expect, test } from 'vitest';
import { backfillTask, useBackfillAtDualWrite } from '../support/backfill.js';
import { useDatabase } from '../support/database.js';
import { until } from '../support/wait.js';

const ROWS = 20_000;
const SLOW_ROW = 5_000;

/**
 * The app-impact governor: an app write that waits on a row the batch has locked is seen through
 * pg_blocking_pids, and when it waits longer than --max-app-wait the next batches shrink.
 * One row's user trigger sleeps for the backfill only, so the batch over it holds that row's lock
 * for a known while and the app's write to it must wait.
 */
describe('the backfill and the app’s waits', () => {
  const db = useDatabase();
  const orders = useBackfillAtDualWrite(db, {
    id: '20261204_app_impact',
    table: 'orders',
    from: 'ref',
    to: 'reference',
    rows: ROWS,
    async prepare() {
      await db.query(
        `CREATE FUNCTION slow_for_backfill() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1.5); RETURN NEW; END $$`,
      );
      await db.query(
        `CREATE TRIGGER slow BEFORE UPDATE ON orders FOR EACH ROW
           WHEN (OLD.id = ${SLOW_ROW} AND current_setting('pgshift.backfill', true) = 'on') EXECUTE FUNCTION slow_for_backfill()`,
      );
    },
  });

  test('an app write blocked by a batch over budget makes the next batches shrink', async () => {
    const run = orders.spawn(['advance', '--max-app-wait', '100', '--json'], { PGSHIFT_LOG_LEVEL: 'warn' });
    // The batch over SLOW_ROW sleeps with that row locked.
    const [sleeper] = [
      await until(
        async () =>
          (
            await db.query<{ pid: number }>(
              `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'pgshift%' AND wait_event = 'PgSleep'`,
            )
          )[0],
        'the backfill batch over the slow row',
      ),
    ];
    const app = new pg.Client({ connectionString: db.url });
    await app.connect();
    try {
      const write = app.query(`UPDATE orders SET ref = 'from the app' WHERE id = ${SLOW_ROW}`);
      const blocked = await until(
        async () =>
          (
            await db.query<{ blockers: number[] }>(
              `SELECT pg_blocking_pids(pid) AS blockers FROM pg_stat_activity WHERE datname = current_database() AND application_name NOT LIKE 'pgshift%' AND query LIKE 'UPDATE orders SET ref = ''from the app''%' AND wait_event_type = 'Lock'`,
            )
          )[0],
        'the app write to wait on the batch',
      );
      expect(blocked.blockers).toContain(sleeper!.pid);
      await write;
    } finally {
      await app.end();
    }

    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('kept app sessions waiting over budget; shrinking');
    const shrink = r.stderr
      .split('\n')
      .filter((l) => l.includes('over budget'))
      .map((l) => JSON.parse(l) as { blockedSessions: number; maxWaitMs: number; budgetMs: number; nextSize: number })[0]!;
    expect(shrink.blockedSessions).toBeGreaterThanOrEqual(1);
    expect(shrink.maxWaitMs).toBeGreaterThan(100);
    expect(shrink.budgetMs).toBe(100);
    const task = backfillTask<{ appImpact: { blockingBatches: number; maxWaitMs: number; budgetMs: number } }>(r);
    expect(task.appImpact.blockingBatches).toBeGreaterThanOrEqual(1);
    expect(task.appImpact.maxWaitMs).toBeGreaterThan(100);
    expect(task.appImpact.budgetMs).toBe(100);
    // The app's write went through the trigger after the batch committed.
    const [row] = await db.query<{ reference: string }>(`SELECT reference FROM orders WHERE id = ${SLOW_ROW}`);
    expect(row!.reference).toBe('from the app');
  });
});
