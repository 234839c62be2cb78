import pg from 'pg';
import { beforeAll, describe, expect, test } from 'vitest';
import { cli, spawnCli } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { planDir, renamePlan } from '../support/plans.js';
import { until } from '../support/wait.js';

const ROWS = 20_000;

/**
 * The dual-write trigger skips the backfill's own rows (its WHEN tests a setting only the
 * backfill's transactions turn on), and still fires for every app write made during the backfill.
 * Calls of the trigger function are counted by track_functions.
 */
describe('the sync trigger during a backfill', () => {
  const db = useDatabase();
  const id = '20261204_trigger_skip';
  let dir: string;

  beforeAll(async () => {
    dir = planDir(renamePlan(id, { table: 'orders', from: 'ref', to: 'reference' }));
    const [{ name }] = (await db.query<{ name: string }>(`SELECT current_database() AS name`)) as [{ name: string }];
    await db.query(`ALTER DATABASE ${pg.escapeIdentifier(name)} SET track_functions = 'all'`);
    await db.query(`CREATE TABLE orders (id bigint PRIMARY KEY, ref text NOT NULL)`);
    await db.query(`INSERT INTO orders SELECT g, 'r' || g FROM generate_series(1, ${ROWS}) g`);
    await db.query(`ANALYZE orders`);
    expect((await cli(['advance', '--to', 'dual-write'], { url: db.url, dir })).code).toBe(0);
  });

  test('fires for app writes during the backfill, not for the backfill’s own rows', async () => {
    const run = spawnCli(['advance', '--batch-size', '200', '--batch-delay', '40'], { url: db.url, dir });
    const progress = async () => (await db.query<{ batches: string; finished_at: Date | null }>(`SELECT batches, finished_at FROM pgshift.backfill_progress WHERE migration_id = $1`, [id]))[0];
    await until(async () => Number((await progress())?.batches ?? 0) >= 3, 'three batches');

    // An app session writes one row the backfill has done and one it has not reached yet.
    const app = new pg.Client({ connectionString: db.url });
    await app.connect();
    try {
      await app.query(`UPDATE orders SET ref = 'app-first' WHERE id = 1`);
      await app.query(`UPDATE orders SET ref = 'app-last' WHERE id = ${ROWS}`);
      const { rows } = await app.query<{ id: string; reference: string }>(`SELECT id, reference FROM orders WHERE id IN (1, ${ROWS}) ORDER BY id`);
      expect(rows.map((r) => r.reference)).toEqual(['app-first', 'app-last']);
    } finally {
      await app.end();
    }
    expect((await progress())!.finished_at, 'the app wrote while the backfill ran').toBeNull();

    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    const [mismatch] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM orders WHERE reference IS DISTINCT FROM ref`);
    expect(mismatch!.n).toBe('0');

    // The backfill's sessions have exited, so their function counts are flushed.
    await until(
      async () => Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'pgshift%'`))[0]!.n) === 0,
      'the backfill’s sessions to exit',
    );
    await db.query(`SELECT pg_stat_clear_snapshot()`);
    const [calls] = await db.query<{ calls: string | null }>(
      `SELECT sum(calls) AS calls FROM pg_stat_user_functions WHERE schemaname = 'pgshift' AND funcname LIKE 'sync\\_%'`,
    );
    // The two app writes; none of the backfill's ROWS updates.
    expect(Number(calls!.calls)).toBe(2);
  });
});
