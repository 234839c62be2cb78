import pg from 'pg';
import { describe, expect, test } from 'vitest';
import { cli } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { planDir, renamePlan } from '../support/plans.js';
import { until } from '../support/wait.js';

const ROWS = 20_000;

interface ReindexDetails {
  reindex: {
    growthAtLeast: number;
    droppedLeftovers: string[];
    indexes: {
      index: string;
      bytesBefore: number;
      bytesGrown: number;
      bytesAfter: number | null;
      growth: number;
      action: string;
      reason: string | null;
    }[];
  } | null;
  tableSize: {
    before: { indexBytes: number };
    after: { indexBytes: number };
    afterReindex: { indexBytes: number } | null;
    indexGrowth: number;
    indexGrowthAfterReindex: number | null;
  };
}

/**
 * --reindex-after: the backfill rewrites every row, so the table's indexes end about twice their
 * size; with the option, each index grown past the threshold is rebuilt with REINDEX INDEX
 * CONCURRENTLY after the backfill, and an INVALID `_ccnew` copy left by an interrupted REINDEX is
 * dropped first.
 */
describe('the backfill rebuilds the indexes it doubled', () => {
  const db = useDatabase();

  const setUp = async (table: string) => {
    const id = `20261204_reindex_${table}`;
    const dir = planDir(renamePlan(id, { table, from: 'ref', to: 'reference' }));
    // autovacuum off and the default fill factor: every backfilled row version lands on another page (no HOT), so every index grows.
    await db.query(
      `CREATE TABLE ${table} (id bigint PRIMARY KEY, ref text NOT NULL, k integer NOT NULL) WITH (autovacuum_enabled = false)`,
    );
    await db.query(`CREATE INDEX ${table}_k_idx ON ${table} (k)`);
    await db.query(`INSERT INTO ${table} SELECT g, 'r' || g, g FROM generate_series(1, ${ROWS}) g`);
    await db.query(`ANALYZE ${table}`);
    expect((await cli(['advance', '--to', 'dual-write'], { url: db.url, dir })).code).toBe(0);
    return { id, dir };
  };
  const backfill = async (dir: string, ...flags: string[]) => {
    const r = await cli(['advance', '--to', 'backfill', '--batch-size', '2000', '--vacuum-every', 'off', ...flags, '--json'], {
      url: db.url,
      dir,
      env: { PGSHIFT_LOG_LEVEL: 'warn' },
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    return r
      .json<{ migrations: { ran: { phase: string; details: { tasks: Record<string, ReindexDetails> } }[] }[] }>()
      .migrations[0]!.ran.find((x) => x.phase === 'backfill')!.details.tasks['0.backfill']!;
  };
  const indexSize = async (name: string) =>
    Number((await db.query<{ n: string }>(`SELECT pg_relation_size('${name}'::regclass) AS n`))[0]!.n);
  const invalidIndexes = async (table: string) =>
    (
      await db.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid WHERE x.indrelid = '${table}'::regclass AND NOT x.indisvalid`,
      )
    ).map((r) => r.name);

  test('without the option nothing is rebuilt; with it, every index grown past the threshold is, and ends smaller', async () => {
    const plain = await setUp('orders_plain');
    const without = await backfill(plain.dir);
    expect(without.reindex).toBeNull();
    expect(without.tableSize.indexGrowth).toBeGreaterThanOrEqual(1.5);

    const { id, dir } = await setUp('orders');
    const details = await backfill(dir, '--reindex-after');
    const reindex = details.reindex!;
    expect(reindex.growthAtLeast).toBe(1.5);
    expect(reindex.droppedLeftovers).toEqual([]);
    expect(reindex.indexes.map((i) => i.index).sort()).toEqual(['orders_k_idx', 'orders_pkey']);
    for (const index of reindex.indexes) {
      expect(index.action, index.index).toBe('reindexed');
      expect(index.growth).toBeGreaterThanOrEqual(1.5);
      expect(index.bytesAfter).toBeLessThan(index.bytesGrown);
      expect(await indexSize(index.index)).toBe(index.bytesAfter);
    }
    expect(details.tableSize.afterReindex!.indexBytes).toBeLessThan(details.tableSize.after.indexBytes);
    expect(details.tableSize.indexGrowthAfterReindex).toBeLessThan(details.tableSize.indexGrowth);
    expect(await invalidIndexes('orders')).toEqual([]);

    // `status` reports the rebuild with the growth.
    const status = await cli(['status', '--json'], { url: db.url, dir });
    const growth = status
      .json<{ migrations: { id: string; tableGrowth: { reindexed: number; indexGrowthAfterReindex: number }[] }[] }>()
      .migrations.find((m) => m.id === id)!.tableGrowth;
    expect(growth).toEqual([expect.objectContaining({ reindexed: 2, indexGrowthAfterReindex: details.tableSize.indexGrowthAfterReindex })]);
    expect((await cli(['status'], { url: db.url, dir })).stdout).toContain(`after REINDEX CONCURRENTLY of 2`);
  });

  test('a --reindex-after of 1 or less, or not a number, is refused as invalid input', async () => {
    for (const bad of ['1', '0.5', 'twice']) {
      const r = await cli(['advance', '--reindex-after', bad, '--json'], { url: db.url, dir: planDir({}) });
      expect(r.code, bad).toBe(2);
      expect(r.stdout + r.stderr).toContain('--reindex-after must be a growth factor above 1');
    }
  });

  test('a threshold above the growth rebuilds nothing', async () => {
    const { dir } = await setUp('orders_high');
    const details = await backfill(dir, '--reindex-after', '50');
    expect(details.reindex!.indexes.length).toBe(2);
    expect(details.reindex!.indexes.every((i) => i.action === 'not grown' && i.bytesAfter === null)).toBe(true);
  });

  test('an INVALID _ccnew copy left by an interrupted REINDEX CONCURRENTLY is dropped, and the index rebuilt', async () => {
    const { dir } = await setUp('orders_cut');
    // Interrupt a real REINDEX CONCURRENTLY: it waits for a transaction that wrote to the table,
    // after creating its INVALID copy; cancelled there, it leaves orders_cut_k_idx_ccnew behind.
    const writer = new pg.Client({ connectionString: db.url });
    const reindexer = new pg.Client({ connectionString: db.url });
    await writer.connect();
    await reindexer.connect();
    try {
      await writer.query(`BEGIN; INSERT INTO orders_cut (id, ref, k) VALUES (${ROWS + 1}, 'x', 1)`);
      const pid = (await reindexer.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const running = reindexer.query('REINDEX INDEX CONCURRENTLY orders_cut_k_idx').catch((e: unknown) => e);
      await until(
        async () => (await invalidIndexes('orders_cut')).includes('orders_cut_k_idx_ccnew'),
        'REINDEX to create its INVALID copy',
      );
      await until(
        async () =>
          (await db.query<{ w: string | null }>(`SELECT wait_event_type AS w FROM pg_stat_activity WHERE pid = ${pid}`))[0]?.w === 'Lock',
        'REINDEX to wait for the writer',
      );
      await db.query(`SELECT pg_cancel_backend(${pid})`);
      expect(String(await running)).toMatch(/cancel/i);
      await writer.query('ROLLBACK');
    } finally {
      await writer.end();
      await reindexer.end();
    }
    expect(await invalidIndexes('orders_cut')).toEqual(['orders_cut_k_idx_ccnew']);

    const details = await backfill(dir, '--reindex-after', '1.5');
    expect(details.reindex!.droppedLeftovers).toEqual(['orders_cut_k_idx_ccnew']);
    expect(details.reindex!.indexes.find((i) => i.index === 'orders_cut_k_idx')).toMatchObject({ action: 'reindexed' });
    expect(await invalidIndexes('orders_cut')).toEqual([]);
  });

  test('a REINDEX held up past its lock retries by a long writer fails the phase naming its INVALID copy; the rerun drops it and rebuilds', async () => {
    const { dir } = await setUp('orders_busy');
    // A transaction that wrote to the table and stays open: REINDEX CONCURRENTLY waits for it
    // (a lock wait, bounded by lock_timeout and the attempts), and so does dropping its copy.
    const writer = new pg.Client({ connectionString: db.url });
    await writer.connect();
    let result;
    try {
      await writer.query(`BEGIN; INSERT INTO orders_busy (id, ref, k) VALUES (${ROWS + 1}, 'x', 1)`);
      result = await cli(
        [
          '--lock-timeout',
          '200',
          '--lock-attempts',
          '2',
          '--lock-max-delay',
          '50',
          'advance',
          '--to',
          'backfill',
          '--batch-size',
          '2000',
          '--vacuum-every',
          'off',
          '--reindex-after',
          '--json',
        ],
        {
          url: db.url,
          dir,
          env: { PGSHIFT_LOG_LEVEL: 'warn' },
        },
      );
    } finally {
      await writer.query('ROLLBACK').catch(() => undefined);
      await writer.end();
    }
    // The copy could not be dropped while the writer was there: the phase fails naming it, and is not done.
    expect(result.code, result.stdout).toBe(1);
    expect(result.json()).toMatchObject({ error: 'invalid_index_left', index: 'orders_busy_k_idx_ccnew', table: 'orders_busy' });
    expect(await invalidIndexes('orders_busy')).toEqual(['orders_busy_k_idx_ccnew']);

    // The rerun (writer gone) resumes after the finished batches: drops the copy, rebuilds both indexes.
    const details = await backfill(dir, '--reindex-after');
    expect(details.reindex!.droppedLeftovers).toEqual(['orders_busy_k_idx_ccnew']);
    expect(details.reindex!.indexes.every((i) => i.action === 'reindexed')).toBe(true);
    expect(await invalidIndexes('orders_busy')).toEqual([]);
  });
});
