import pg from 'pg';
import { beforeAll, describe, expect, test } from 'vitest';
import { cli, spawnCli } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { planDir, renamePlan } from '../support/plans.js';
import { blocker as longReader } from '../support/locks.js';
import { until } from '../support/wait.js';

/**
 * A session holding a conflicting lock in an open transaction: pgshift's DDL waits at most
 * lock_timeout per attempt (so app queries queued behind it wait about that long, not forever),
 * retries with jitter, and either succeeds once the blocker ends or fails naming it.
 */
describe('strong-lock DDL never queues for long', () => {
  const db = useDatabase();
  let dir: string;

  beforeAll(async () => {
    dir = planDir(renamePlan('20261121_locks', { table: 'orders', from: 'status', to: 'state' }));
    await db.query(`CREATE TABLE orders (id int PRIMARY KEY, status text)`);
    await db.query(`INSERT INTO orders SELECT g, 'new' FROM generate_series(1, 100) g`);
  });

  const blocker = (table = 'orders') => longReader(db, table);

  test('gives up after its attempts, naming the blocker; nothing changed; the ledger says failed', async () => {
    const b = await blocker();
    try {
      const r = await cli(['--lock-timeout', '100', '--lock-attempts', '3', 'advance', '--json'], { url: db.url, dir });
      expect(r.code).toBe(1);
      expect(r.json()).toMatchObject({
        error: 'lock_timeout',
        attempts: 3,
        lockTimeoutMs: 100,
        blockers: [{ pid: b.pid, mode: 'AccessShareLock', application: 'long reader' }],
      });
      expect(r.stderr).toMatch(new RegExp(`held by: pid ${b.pid} \\(AccessShareLock, idle in transaction`));
    } finally {
      await b.end();
    }
    const cols = await db.query<{ attname: string }>(
      `SELECT attname FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attnum > 0 AND NOT attisdropped`,
    );
    expect(cols.map((c) => c.attname)).toEqual(['id', 'status']);
    const runs = await db.query<{ phase: string; status: string; error: string }>(`SELECT phase, status, error FROM pgshift.phase_runs`);
    expect(runs).toMatchObject([{ phase: 'expand', status: 'failed', error: expect.stringContaining('gave up after 3 attempt(s)') }]);
  });

  test('app queries behind the waiting DDL wait about lock_timeout, and the DDL succeeds once the blocker ends', async () => {
    const b = await blocker();
    const advance = cli(['--lock-timeout', '200', '--lock-attempts', '20', 'advance', '--json'], { url: db.url, dir });
    // While pgshift's ALTER waits in the lock queue, an app write queues behind it.
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await db.query(`UPDATE orders SET status = 'paid' WHERE id = 1`);
    const appWaitMs = Date.now() - t0;
    setTimeout(() => void b.end(), 600);
    const r = await advance;
    expect(r.code, r.stderr).toBe(0);
    // Bounded by one lock_timeout (200 ms) plus scheduling slack; never the blocker's 600+ ms.
    expect(appWaitMs).toBeLessThan(600);
    const cols = await db.query<{ attname: string }>(
      `SELECT attname FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    );
    expect(cols.map((c) => c.attname)).toEqual(['id', 'status', 'state']);
  });
  test('every wait is logged while it lasts, with the blocking pid and its query', async () => {
    await db.query(`CREATE TABLE invoices (id int PRIMARY KEY, total text)`);
    const waitDir = planDir(renamePlan('20261121_logged', { table: 'invoices', from: 'total', to: 'amount' }));
    const b = await blocker('invoices');
    const run = spawnCli(['--lock-timeout', '5000', 'advance', '20261121_logged'], {
      url: db.url,
      dir: waitDir,
      env: { PGSHIFT_LOG_LEVEL: 'warn' },
    });
    // Release the blocker only once pgshift is seen waiting, and has had time to look (it polls every 250 ms).
    await until(async () => {
      const waiting = await db.query(`SELECT 1 FROM pg_locks WHERE relation = 'invoices'::regclass AND NOT granted`);
      return waiting.length > 0;
    }, 'pgshift waiting for the lock');
    await new Promise((resolve) => setTimeout(resolve, 600));
    await b.end();
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    const line = r.stderr.split('\n').find((l) => l.includes('waiting for a lock'));
    expect(line, r.stderr).toBeDefined();
    const logged = JSON.parse(line!) as {
      waitingPid: number;
      blockers: { pid: number; mode: string; application: string; query: string }[];
    };
    expect(logged.blockers).toEqual([
      expect.objectContaining({ pid: b.pid, mode: 'AccessShareLock', application: 'long reader', query: b.query }),
    ]);
  });
});

describe('a backfill batch blocked by row locks', () => {
  const db = useDatabase();
  let dir: string;

  beforeAll(async () => {
    dir = planDir(renamePlan('20261121_rowlocks', { table: 'items', from: 'label', to: 'title' }));
    await db.query(`CREATE TABLE items (id int PRIMARY KEY, label text)`);
    await db.query(`INSERT INTO items SELECT g, 'l' || g FROM generate_series(1, 2000) g`);
    expect((await cli(['advance', '--to', 'dual-write'], { url: db.url, dir })).code).toBe(0);
  });

  async function lockRows(from: number, to: number) {
    const holder = new pg.Client({ connectionString: db.url, application_name: 'row locker' });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT * FROM items WHERE id BETWEEN $1 AND $2 FOR UPDATE', [from, to]);
    return async () => {
      await holder.query('ROLLBACK');
      await holder.end();
    };
  }

  test('locks never released: batches shrink, then the phase fails naming the range, checkpoint intact', async () => {
    const release = await lockRows(450, 460);
    try {
      const r = await cli(['--lock-timeout', '100', 'advance', '--batch-size', '400', '--max-attempts', '3', '--json'], {
        url: db.url,
        dir,
      });
      expect(r.code).toBe(1);
      // 400-row range, then 100 (400 / 4), then 100 (the floor): all contain the locked rows.
      expect(r.json()).toMatchObject({
        error: 'backfill_batch_failed',
        task: '0.backfill#0',
        from: ['400'],
        to: ['500'],
        attempts: 3,
        lastBatchSize: 100,
        sqlstate: '55P03',
        blockers: [{ application: 'row locker', state: 'idle in transaction', mode: 'ExclusiveLock' }],
      });
      expect(r.stderr).toContain('gave up on keys (["400"], ["500"]] after 3 attempt(s)');
      const [cp] = await db.query<{ cursor: string[]; rows_done: string; finished_at: Date | null }>(
        `SELECT cursor, rows_done, finished_at FROM pgshift.backfill_progress`,
      );
      expect(cp).toEqual({ cursor: ['400'], rows_done: '400', finished_at: null });
      const runs = await db.query<{ status: string; error: string }>(
        `SELECT status, error FROM pgshift.phase_runs WHERE phase = 'backfill'`,
      );
      expect(runs).toMatchObject([{ status: 'failed', error: expect.stringContaining('gave up on keys') }]);
    } finally {
      await release();
    }
  });

  test('locks released while it retries: the batch shrinks, then completes; the run goes on', async () => {
    const release = await lockRows(1450, 1460);
    setTimeout(() => void release(), 700);
    const r = await cli(
      ['--lock-timeout', '100', '--lock-attempts', '8', 'advance', '--batch-size', '400', '--max-attempts', '10', '--json'],
      { url: db.url, dir },
    );
    expect(r.code, r.stderr).toBe(0);
    const task = r.json<{
      migrations: { ran: { details: { tasks: Record<string, { resumedFrom: string[]; rowsUpdated: number }> } }[] }[];
    }>().migrations[0]!.ran[0]!.details.tasks['0.backfill']!;
    expect(task).toMatchObject({ resumedFrom: ['400'], rowsUpdated: 1600 });
    const [n] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM items WHERE title IS DISTINCT FROM label`);
    expect(n!.n).toBe('0');
  });
});
