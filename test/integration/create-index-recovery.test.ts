import pg from 'pg';
import { beforeAll, describe, expect, test } from 'vitest';
import { cli, spawnCli } from '../support/cli.js';
import { useDatabase, type TestDatabase } from '../support/database.js';
import { planDir } from '../support/plans.js';
import { until } from '../support/wait.js';

function indexPlan(id: string, op: Record<string, unknown>) {
  return planDir({ [`${id}.json`]: { id, operations: [{ kind: 'createIndex', ...op }] } });
}

/** The index as pg_index says: null when missing. */
async function indexRow(db: TestDatabase, name: string) {
  const [row] = await db.query<{ valid: boolean; ready: boolean }>(
    `SELECT i.indisvalid AS valid, i.indisready AS ready FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1`,
    [name],
  );
  return row ?? null;
}

async function invalidIndexes(db: TestDatabase) {
  return (
    await db.query<{ name: string }>(`SELECT indexrelid::regclass::text AS name FROM pg_index WHERE NOT indisvalid OR NOT indisready`)
  ).map((r) => r.name);
}

/** What a crash in the middle of CREATE INDEX CONCURRENTLY leaves: the index, INVALID. */
async function leaveInvalidIndex(db: TestDatabase, sql: string) {
  await expect(db.query(sql)).rejects.toThrow();
}

async function session(db: TestDatabase, application: string) {
  const c = new pg.Client({ connectionString: db.url, application_name: application });
  await c.connect();
  const [{ pid }] = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [{ pid: number }];
  return { c, pid, end: async () => (await c.query('ROLLBACK'), await c.end()) };
}

describe('a UNIQUE index over duplicate keys', () => {
  const db = useDatabase();
  const id = '20261121_customers_email';
  const dir = indexPlan(id, {
    table: 'customers',
    name: 'customers_email_key',
    columns: ['email', 'region'],
    unique: true,
    where: 'active',
  });

  beforeAll(async () => {
    await db.query(`CREATE TABLE customers (id int PRIMARY KEY, email text, region text, active boolean NOT NULL DEFAULT true)`);
    await db.query(`INSERT INTO customers SELECT g, 'c' || g || '@x', 'eu', true FROM generate_series(1, 2000) g`);
    // Duplicates among active rows; NULLs and inactive rows never conflict.
    await db.query(`INSERT INTO customers VALUES (3001, 'c5@x', 'eu', true), (3002, 'c9@x', 'eu', true), (3003, 'c9@x', 'eu', true),
                    (3004, 'c7@x', 'eu', false), (3005, NULL, 'eu', true), (3006, NULL, 'eu', true)`);
  });

  test('fails with exit 1, naming the index and sample keys; no invalid index is left', async () => {
    const r = await cli(['advance', '--json'], { url: db.url, dir });
    expect(r.code).toBe(1);
    expect(r.json()).toMatchObject({
      error: 'unique_index_duplicates',
      index: 'customers_email_key',
      table: 'customers',
      columns: ['email', 'region'],
      sampleKeys: [
        ['c5@x', 'eu'],
        ['c9@x', 'eu'],
      ],
      sqlstate: '23505',
    });
    expect(r.stderr).toContain(
      'cannot build unique index customers_email_key on customers: duplicate values in (email, region), e.g. ["c5@x","eu"], ["c9@x","eu"]',
    );
    expect(await indexRow(db, 'customers_email_key')).toBeNull();
    expect(await invalidIndexes(db)).toEqual([]);
    const runs = await db.query<{ phase: string; status: string }>(`SELECT phase, status FROM pgshift.phase_runs WHERE migration_id = $1`, [
      id,
    ]);
    expect(runs).toEqual([{ phase: 'expand', status: 'failed' }]);
  });

  test('an INVALID index of the same name left by a crash is dropped on rerun, and dropped again when the build fails', async () => {
    await leaveInvalidIndex(db, `CREATE UNIQUE INDEX CONCURRENTLY customers_email_key ON customers (email, region) WHERE active`);
    expect(await indexRow(db, 'customers_email_key')).toEqual({ valid: false, ready: false });
    const plan = await cli(['plan', id, '--json'], { url: db.url, dir });
    expect(
      plan.json<{ phases: { phase: string; statements: { description: string }[] }[] }>().phases[0]!.statements[0]!.description,
    ).toContain('the INVALID index of that name (left by an interrupted build) is dropped first');
    const r = await cli(['advance', '--json'], { url: db.url, dir });
    expect(r.code).toBe(1);
    expect(r.json()).toMatchObject({ error: 'unique_index_duplicates' });
    expect(await invalidIndexes(db)).toEqual([]);
  });

  test('after the data is fixed, a rerun finds the crash leftover, drops it and builds the index', async () => {
    await leaveInvalidIndex(db, `CREATE UNIQUE INDEX CONCURRENTLY customers_email_key ON customers (email, region) WHERE active`);
    await db.query(`DELETE FROM customers WHERE id IN (3001, 3002, 3003)`);
    const run = spawnCli(['advance', '--json'], { url: db.url, dir, env: { PGSHIFT_LOG_LEVEL: 'warn' } });
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      'found INVALID index customers_email_key on customers (left by a failed or interrupted build); dropping it to build it again',
    );
    expect(await indexRow(db, 'customers_email_key')).toEqual({ valid: true, ready: true });
    expect(await invalidIndexes(db)).toEqual([]);
  });
});

describe('an index that already holds the name', () => {
  const db = useDatabase();

  beforeAll(async () => {
    await db.query(`CREATE TABLE items (id int PRIMARY KEY, sku text, price int)`);
    await db.query(`INSERT INTO items SELECT g, 's' || g, g FROM generate_series(1, 500) g`);
  });

  test('built exactly as asked (an expand that stopped before recording itself): kept, and dropped by rollback', async () => {
    await db.query(`CREATE INDEX CONCURRENTLY items_price ON items USING btree (price) WHERE price > 10`);
    const dir = indexPlan('20261121_items_price', { table: 'items', name: 'items_price', columns: ['price'], where: '(price > 10)' });
    const r = await cli(['advance', '--json'], { url: db.url, dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({
      migrations: [{ state: 'expand', ran: [{ details: { statements: 0, skipped: ['0.expand.create-index'] } }] }],
    });
    expect((await cli(['rollback', '20261121_items_price'], { url: db.url, dir })).code).toBe(0);
    expect(await indexRow(db, 'items_price')).toBeNull();
  });

  test('built differently: refused, naming the existing definition', async () => {
    await db.query(`CREATE INDEX items_sku ON items (sku)`);
    const dir = indexPlan('20261121_items_sku', { table: 'items', name: 'items_sku', columns: ['sku'], unique: true });
    const r = await cli(['advance'], { url: db.url, dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'operations[0].name: index items_sku already exists on items with another definition: CREATE INDEX items_sku ON public.items USING btree (sku)',
    );
  });
});

describe('CREATE INDEX CONCURRENTLY waits for older transactions', () => {
  const db = useDatabase();

  beforeAll(async () => {
    await db.query(`CREATE TABLE parcels (id int PRIMARY KEY, code text, weight int)`);
    await db.query(`INSERT INTO parcels SELECT g, 'p' || g, g % 50 FROM generate_series(1, 2000) g`);
    await db.query(`CREATE TABLE unrelated (x int)`);
  });

  test('an old snapshot: bounded attempts, exit 1 naming the blocker, no invalid index left', async () => {
    const blocker = await session(db, 'old report');
    await blocker.c.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await blocker.c.query('SELECT count(*) FROM unrelated');
    try {
      const dir = indexPlan('20261121_parcels_code', { table: 'parcels', name: 'parcels_code', columns: ['code'] });
      const r = await cli(['--lock-timeout', '200', '--lock-attempts', '2', 'advance', '--json'], { url: db.url, dir });
      expect(r.code).toBe(1);
      expect(r.json()).toMatchObject({
        error: 'lock_timeout',
        attempts: 2,
        lockTimeoutMs: 200,
        blockers: [{ pid: blocker.pid, application: 'old report' }],
      });
      expect(r.stderr).toContain('on: CREATE INDEX CONCURRENTLY "parcels_code"');
      expect(await indexRow(db, 'parcels_code')).toBeNull();
      expect(await invalidIndexes(db)).toEqual([]);
    } finally {
      await blocker.end();
    }
  });

  test('a writer in an open transaction also blocks the cleanup: the error says the INVALID index is left, and the rerun rebuilds it', async () => {
    const dir = indexPlan('20261121_parcels_weight', { table: 'parcels', name: 'parcels_weight', columns: ['weight'] });
    const writer = await session(db, 'slow writer');
    await writer.c.query('BEGIN');
    await writer.c.query('UPDATE parcels SET weight = weight WHERE id = 1');
    try {
      const r = await cli(['--lock-timeout', '100', '--lock-attempts', '2', 'advance', '--json'], { url: db.url, dir });
      expect(r.code).toBe(1);
      expect(r.json()).toMatchObject({ error: 'invalid_index_left', index: 'parcels_weight', table: 'parcels' });
      expect(r.stderr).toMatch(/building index parcels_weight on parcels failed \(.*\), and dropping its INVALID leftover failed too/s);
      expect(await indexRow(db, 'parcels_weight')).toMatchObject({ valid: false });
    } finally {
      await writer.end();
    }
    const again = await cli(['advance', '--json'], { url: db.url, dir });
    expect(again.code, again.stderr).toBe(0);
    expect(await indexRow(db, 'parcels_weight')).toEqual({ valid: true, ready: true });
    expect(await invalidIndexes(db)).toEqual([]);
  });

  test('progress is logged while it builds (phase, blocks, tuples, lockers); the build goes on once the blocker ends', async () => {
    const blocker = await session(db, 'long report');
    await blocker.c.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await blocker.c.query('SELECT count(*) FROM unrelated');
    const dir = indexPlan('20261121_parcels_id_code', { table: 'parcels', name: 'parcels_id_code', columns: ['id', 'code'] });
    const run = spawnCli(['--lock-timeout', '30000', 'advance', '--json'], { url: db.url, dir, env: { PGSHIFT_LOG_LEVEL: 'info' } });
    let stderr = '';
    run.child.stderr!.on('data', (d) => (stderr += d));
    try {
      await until(
        async () => stderr.includes('building index parcels_id_code on parcels: waiting for old snapshots'),
        'a progress line',
        30_000,
      );
    } finally {
      await blocker.end();
    }
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    const progress = r.stderr
      .split('\n')
      .filter((l) => l.includes('building index parcels_id_code'))
      .map(
        (l) =>
          JSON.parse(l) as {
            phase: string;
            buildPid: number;
            blocks: { total: number };
            tuples: { done: number };
            lockers: { current: number | null };
          },
      );
    expect(progress[0]).toMatchObject({ phase: 'waiting for old snapshots', lockers: { current: blocker.pid } });
    expect(await indexRow(db, 'parcels_id_code')).toEqual({ valid: true, ready: true });
  });
});
