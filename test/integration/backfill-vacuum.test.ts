import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { HealthSignals, type SignalSettings } from '../../src/backfill/signals.js';
import { tableActivity, VacuumStep, vacuumSkipReason } from '../../src/backfill/vacuum-step.js';
import { createLogger } from '../../src/logger.js';
import { backfillAtDualWrite, backfillTask, type BackfillFixture } from '../support/backfill.js';
import { cli } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { planDir } from '../support/plans.js';
import { until } from '../support/wait.js';

const ROWS = 20_000;

interface VacuumDetails {
  vacuum: { everyPercent: number | null; runs: number; skipped: { reason: string }[] };
  tableSize: { before: { heapBytes: number; indexBytes: number }; after: { heapBytes: number; indexBytes: number }; heapGrowth: number };
}

/**
 * The backfill's own VACUUM every --vacuum-every percent: two identical tables (autovacuum off on
 * both, so only the backfill vacuums), one backfilled with the step and one without; the one
 * vacuumed along the way ends smaller because later batches reuse the freed space.
 */
describe('the backfill vacuums what it has done', () => {
  const db = useDatabase();
  let pool: pg.Pool;

  const setUp = (table: string) =>
    backfillAtDualWrite(db, {
      id: `20261204_vacuum_${table}`,
      table,
      from: 'ref',
      to: 'reference',
      rows: ROWS,
      storage: 'autovacuum_enabled = false',
    });
  const vacuumCount = async (table: string) =>
    Number((await db.query<{ n: string }>(`SELECT vacuum_count AS n FROM pg_stat_user_tables WHERE relname = '${table}'`))[0]!.n);
  const backfill = async (migration: BackfillFixture, ...flags: string[]) => {
    const r = await cli(['advance', '--batch-size', '1000', '--hold-on-vacuum', 'all', ...flags, '--json'], {
      url: db.url,
      dir: migration.dir,
      env: { PGSHIFT_LOG_LEVEL: 'warn' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/backfill holding/);
    return backfillTask<VacuumDetails>(r);
  };

  beforeAll(() => {
    pool = new pg.Pool({ connectionString: db.url, max: 3 });
  });
  afterAll(async () => {
    await pool.end();
  });

  test('vacuums run during the backfill and the table ends smaller than without them', async () => {
    const withVacuum = await setUp('orders_vacuumed');
    const withoutVacuum = await setUp('orders_plain');
    const countBefore = await vacuumCount('orders_vacuumed');

    // --hold-on-vacuum all holds for every VACUUM of the table but the backfill's own.
    const vacuumed = await backfill(withVacuum, '--vacuum-every', '20%');
    const plain = await backfill(withoutVacuum, '--vacuum-every', 'off');

    expect(vacuumed.vacuum.everyPercent).toBe(20);
    expect(vacuumed.vacuum.runs).toBeGreaterThanOrEqual(1);
    expect(vacuumed.vacuum.skipped).toEqual([]);
    expect(await vacuumCount('orders_vacuumed')).toBeGreaterThanOrEqual(countBefore + vacuumed.vacuum.runs);
    expect(plain.vacuum).toMatchObject({ everyPercent: null, runs: 0 });

    // Identical tables before; the one vacuumed along the way is smaller after.
    expect(vacuumed.tableSize.before.heapBytes).toBe(plain.tableSize.before.heapBytes);
    expect(vacuumed.tableSize.after.heapBytes).toBeLessThan(plain.tableSize.after.heapBytes);
    expect(plain.tableSize.after.heapBytes).toBeGreaterThan(plain.tableSize.before.heapBytes);
    const [actual] = await db.query<{ size: string }>(`SELECT pg_table_size('orders_vacuumed') AS size`);
    expect(Number(actual!.size)).toBe(vacuumed.tableSize.after.heapBytes);

    // `status` shows the growth of the last finished backfill.
    const status = await withVacuum.run('status', '--json');
    const growth = status
      .json<{ migrations: { id: string; tableGrowth: { task: string; heapGrowth: number; vacuums: number }[] }[] }>()
      .migrations.find((m) => m.id === '20261204_vacuum_orders_vacuumed')!.tableGrowth;
    expect(growth).toEqual([
      expect.objectContaining({ task: '0.backfill', heapGrowth: vacuumed.tableSize.heapGrowth, vacuums: vacuumed.vacuum.runs }),
    ]);
    const text = await withVacuum.run('status');
    expect(text.stdout).toContain(`20261204_vacuum_orders_vacuumed 0.backfill: table heap ×${vacuumed.tableSize.heapGrowth}, indexes ×`);
  });

  test('a --vacuum-every outside 1–100% is refused as invalid input', async () => {
    for (const bad of ['0', '101', '5.5', 'often']) {
      const r = await cli(['advance', '--vacuum-every', bad, '--json'], { url: db.url, dir: planDir({}) });
      expect(r.code, bad).toBe(2);
      expect(r.stdout + r.stderr).toContain('--vacuum-every must be a percentage from 1 to 100');
    }
  });

  test('the vacuum step skips its VACUUM while an anti-wraparound vacuum runs on the table, and runs it once that is gone', async () => {
    await db.query(`CREATE TABLE wrapped (id bigint PRIMARY KEY, pad text) WITH (autovacuum_enabled = false)`);
    await db.query(`INSERT INTO wrapped SELECT g, repeat('x', 200) FROM generate_series(1, ${ROWS}) g`);
    await db.query(`UPDATE wrapped SET pad = repeat('y', 200)`);
    const table = { schema: 'public', name: 'wrapped' };
    // What the step observes of an anti-wraparound autovacuum: a row in pg_stat_progress_vacuum
    // whose backend's query reads "… (to prevent wraparound)" (an autovacuum worker's reads
    // "autovacuum: VACUUM public.wrapped (to prevent wraparound)"). A slow manual VACUUM carrying
    // those words in a comment shows the same two facts, without waiting for two billion xids.
    const vacuumer = new pg.Client({ connectionString: db.url });
    await vacuumer.connect();
    try {
      await vacuumer.query(`SET vacuum_cost_delay = 100; SET vacuum_cost_limit = 1`);
      const pid = (await vacuumer.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const running = vacuumer.query('/* (to prevent wraparound) */ VACUUM wrapped').catch((e: unknown) => e);
      await until(
        async () => (await tableActivity(pool, table)).vacuums.find((v) => v.pid === pid && v.wraparound),
        'the anti-wraparound VACUUM to show',
      );
      const countBefore = await vacuumCount('wrapped');

      const step = new VacuumStep(pool, table, 10, ROWS, 200, new Set(), createLogger({ level: 'silent', pretty: false }));
      step.afterBatch(ROWS / 10);
      await step.settle();
      expect(step.summary.runs).toBe(0);
      expect(step.summary.skipped).toEqual([{ atRows: ROWS / 10, reason: `anti-wraparound autovacuum running (pid ${pid})` }]);

      await db.query(`SELECT pg_cancel_backend(${pid})`);
      await running;
      await until(async () => !(await tableActivity(pool, table)).vacuums.length, 'the anti-wraparound VACUUM to end');
      expect(await vacuumCount('wrapped')).toBe(countBefore);
      // Gone: the next step due runs.
      step.afterBatch((2 * ROWS) / 10);
      await step.settle();
      expect(step.summary.runs).toBe(1);
      await until(async () => (await vacuumCount('wrapped')) === countBefore + 1, 'the step’s VACUUM to be counted');
    } finally {
      await vacuumer.end();
    }
  });

  test('the backfill’s own VACUUM does not hold it; anyone else’s does', async () => {
    await db.query(`CREATE TABLE slow_vacuum (id bigint PRIMARY KEY, pad text) WITH (autovacuum_enabled = false)`);
    await db.query(`INSERT INTO slow_vacuum SELECT g, repeat('x', 200) FROM generate_series(1, ${ROWS}) g`);
    const table = { schema: 'public', name: 'slow_vacuum' };
    // A VACUUM made slow by its cost delay stays visible in pg_stat_progress_vacuum until cancelled.
    const vacuumer = new pg.Client({ connectionString: db.url });
    await vacuumer.connect();
    try {
      await vacuumer.query(`SET vacuum_cost_delay = 100; SET vacuum_cost_limit = 1`);
      const pid = (await vacuumer.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const running = vacuumer.query('VACUUM slow_vacuum').catch((e: unknown) => e);
      await until(
        async () => (await tableActivity(pool, table)).vacuums.find((v) => v.pid === pid),
        'the slow VACUUM to show in pg_stat_progress_vacuum',
      );

      const settings: SignalSettings = {
        maxLagMs: null,
        maxLagBytes: null,
        replicaUrl: null,
        requireStandbys: [],
        minStandbys: null,
        holdOnVacuum: 'all',
      };
      const someoneElses = new HealthSignals(pool, [table]);
      expect(await someoneElses.check(settings)).toMatch(new RegExp(`VACUUM running on slow_vacuum \\(pid ${pid}`));
      const ours = new HealthSignals(pool, [table]);
      ours.ownVacuumPids.add(pid);
      expect(await ours.check(settings)).toBeNull();

      // The skip decision, on the real progress row of this manual VACUUM: not anti-wraparound,
      // so no skip; the same row flagged anti-wraparound (what pg_stat_activity shows for one) skips.
      const activity = await tableActivity(pool, table);
      expect(activity.vacuums.find((v) => v.pid === pid)).toMatchObject({ auto: false, wraparound: false });
      expect(vacuumSkipReason(activity, new Set())).toBeNull();
      const wrapped = { ...activity, vacuums: activity.vacuums.map((v) => ({ ...v, auto: true, wraparound: true })) };
      expect(vacuumSkipReason(wrapped, new Set())).toBe(`anti-wraparound autovacuum running (pid ${pid})`);
      expect(vacuumSkipReason(wrapped, new Set([pid]))).toBeNull();
      await someoneElses.close();
      await ours.close();
      await db.query(`SELECT pg_cancel_backend(${pid})`);
      await running;
    } finally {
      await vacuumer.end();
    }
  });
});
