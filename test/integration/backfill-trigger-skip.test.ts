import pg from 'pg';
import { describe, expect, test } from 'vitest';
import { pgshiftSessionsGone, useBackfillAtDualWrite } from '../support/backfill.js';
import { useDatabase } from '../support/database.js';
import { until } from '../support/wait.js';

const ROWS = 20_000;

/**
 * The dual-write trigger skips the backfill's own rows (its WHEN tests a setting only the
 * backfill's transactions turn on), and still fires for every app write made during the backfill.
 * Calls of the trigger function are counted by track_functions.
 */
describe('the sync trigger during a backfill', () => {
  const db = useDatabase();
  const orders = useBackfillAtDualWrite(db, {
    id: '20261204_trigger_skip',
    table: 'orders',
    from: 'ref',
    to: 'reference',
    rows: ROWS,
    // Set before expand: the sessions that run the trigger (opened afterwards) count its calls.
    prepare: (db) => db.query(`ALTER DATABASE ${pg.escapeIdentifier(db.name)} SET track_functions = 'all'`).then(() => undefined),
  });

  test('fires for app writes during the backfill, not for the backfill’s own rows', async () => {
    const run = orders.spawn(['advance', '--batch-size', '200', '--batch-delay', '40']);
    const progress = orders.progress;
    await until(async () => Number((await progress())?.batches ?? 0) >= 3, 'three batches');

    // An app session writes one row the backfill has done and one it has not reached yet.
    const app = new pg.Client({ connectionString: db.url });
    await app.connect();
    try {
      await app.query(`UPDATE orders SET ref = 'app-first' WHERE id = 1`);
      await app.query(`UPDATE orders SET ref = 'app-last' WHERE id = ${ROWS}`);
      const { rows } = await app.query<{ id: string; reference: string }>(
        `SELECT id, reference FROM orders WHERE id IN (1, ${ROWS}) ORDER BY id`,
      );
      expect(rows.map((r) => r.reference)).toEqual(['app-first', 'app-last']);
    } finally {
      await app.end();
    }
    expect((await progress())!.finished_at, 'the app wrote while the backfill ran').toBeNull();

    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(await orders.unsynced()).toBe(0);

    // The backfill's sessions have exited, so their function counts are flushed.
    await pgshiftSessionsGone(db);
    await db.query(`SELECT pg_stat_clear_snapshot()`);
    const [calls] = await db.query<{ calls: string | null }>(
      `SELECT sum(calls) AS calls FROM pg_stat_user_functions WHERE schemaname = 'pgshift' AND funcname LIKE 'sync\\_%'`,
    );
    // The two app writes; none of the backfill's ROWS updates.
    expect(Number(calls!.calls)).toBe(2);
  });
});
