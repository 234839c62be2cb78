import pg from 'pg';
import { beforeAll, describe, expect, test } from 'vitest';
import { snapshot } from '../support/catalog.js';
import { cli, spawnCli, type CliResult } from '../support/cli.js';
import { useDatabase, type TestDatabase } from '../support/database.js';
import { blocker, waitsForLock } from '../support/locks.js';
import { planDir, renamePlan } from '../support/plans.js';
import { until } from '../support/wait.js';

/**
 * Contract under a lock storm (expand's is in lock-waits.test.ts): a session keeps a read
 * transaction open on the table while contract needs ACCESS EXCLUSIVE. The app's queries, which
 * queue behind pgshift's waiting DDL, must each get through once that attempt's lock_timeout
 * ends, while the blocker still holds its lock: so none waits for the blocker, only about
 * lock_timeout. Then either the blocker ends and the DDL succeeds on a retry, or the attempts run
 * out and contract fails naming the blocker, with nothing changed.
 */

const TABLE = '"Order Items"';
const LOCK_TIMEOUT_MS = 200;
/** The app's own lock_timeout: it fails (and so does the test) if it ever waits for the blocker. */
const APP_LOCK_TIMEOUT_MS = LOCK_TIMEOUT_MS * 8;

async function setup(db: TestDatabase, id: string) {
  await db.query(`CREATE TABLE ${TABLE} (id int PRIMARY KEY, "Status" text NOT NULL DEFAULT 'new')`);
  await db.query(`INSERT INTO ${TABLE} SELECT g, 'new' FROM generate_series(1, 2000) g`);
  const dir = planDir(renamePlan(id, { table: 'Order Items', from: 'Status', to: 'state' }));
  const r = await cli(['advance', '--to', 'backfill'], { url: db.url, dir });
  expect(r.code, r.stderr).toBe(0);
  return dir;
}

interface AppQuery {
  ms: number;
  /** Seen waiting in the lock queue (behind pgshift's DDL). */
  queued: boolean;
}

/**
 * The app, while `running()`: each time pgshift is seen waiting for the lock, one write or read
 * of the old column, timed, with a look at whether it queued.
 */
async function appDuringContract(db: TestDatabase, until_: { exited: () => boolean; max?: number }): Promise<AppQuery[]> {
  const app = new pg.Client({ connectionString: db.url, application_name: 'app' });
  await app.connect();
  await app.query(`SET lock_timeout = ${APP_LOCK_TIMEOUT_MS}`);
  const [{ pid }] = (await app.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [{ pid: number }];
  const done: AppQuery[] = [];
  const running = () => !until_.exited() && done.length < (until_.max ?? Infinity);
  try {
    for (let i = 1; running(); i++) {
      const waiting = await until(
        async () => !running() || (await waitsForLock(db, TABLE, 'pgshift advance')),
        'pgshift waiting for the lock',
      );
      if (!running() || !waiting) break;
      const t0 = Date.now();
      let finished = false;
      const query = (
        i % 2 ? app.query(`UPDATE ${TABLE} SET "Status" = 'paid' WHERE id = $1`, [i]) : app.query(`SELECT count(*) FROM ${TABLE}`)
      ).finally(() => (finished = true));
      let queued = false;
      while (!finished && !queued) {
        const [row] = await db.query<{ waiting: boolean }>(
          `SELECT wait_event_type = 'Lock' AS waiting FROM pg_stat_activity WHERE pid = $1`,
          [pid],
        );
        queued = row?.waiting === true;
        if (!queued) await new Promise((r) => setTimeout(r, 5));
      }
      await query;
      done.push({ ms: Date.now() - t0, queued });
    }
  } finally {
    await app.end();
  }
  return done;
}

function logLines(r: CliResult, message: string) {
  return r.stderr
    .split('\n')
    .filter((l) => l.includes(message))
    .map((l) => JSON.parse(l) as { blockers: { pid: number; mode: string; application: string; query: string }[] });
}

describe('contract while a session holds a conflicting lock', () => {
  const db = useDatabase();
  const id = '20261301_contract_storm';
  let dir: string;

  beforeAll(async () => {
    dir = await setup(db, id);
  });

  test('app queries meanwhile wait about one lock_timeout each; the DDL retries and succeeds once the blocker ends', async () => {
    const b = await blocker(db, TABLE);
    const run = spawnCli(
      ['--lock-timeout', String(LOCK_TIMEOUT_MS), '--lock-attempts', '100', '--lock-max-delay', '100', 'advance', id, '--json'],
      { url: db.url, dir },
    );
    let exited = false;
    void run.done.then(() => (exited = true));
    let queries: AppQuery[] = [];
    try {
      // Enough app queries to span several of pgshift's attempts; the blocker holds throughout.
      queries = await appDuringContract(db, { exited: () => exited, max: 6 });
      if (exited) expect.fail(`contract finished while the blocker still held its lock: ${(await run.done).stderr}`);
    } finally {
      await b.end();
    }
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({ migrations: [{ id, state: 'contract', complete: true }] });

    // Every app query got through while the blocker held on: none waited for it, at most for one attempt.
    expect(queries.length).toBeGreaterThanOrEqual(6);
    expect(queries.filter((q) => q.queued).length, JSON.stringify(queries)).toBeGreaterThan(0);
    const retries = logLines(r, 'lock wait timed out');
    expect(retries.length).toBeGreaterThanOrEqual(2);
    expect(retries[0]!.blockers).toEqual([expect.objectContaining({ pid: b.pid, application: 'long reader', query: b.query })]);

    const cols = await db.query<{ attname: string }>(
      `SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
      [TABLE],
    );
    expect(cols.map((c) => c.attname)).toEqual(['id', 'state']);
    const runs = await db.query(`SELECT phase, status FROM pgshift.phase_runs WHERE migration_id = $1 AND phase = 'contract'`, [id]);
    expect(runs).toEqual([{ phase: 'contract', status: 'succeeded' }]);
  });
});

describe('contract that cannot get its lock within its budget', () => {
  const db = useDatabase();
  const id = '20261301_contract_gives_up';
  let dir: string;

  beforeAll(async () => {
    dir = await setup(db, id);
  });

  test('fails with exit 1 naming the blocker (pid and query); nothing changed; a rerun without it succeeds', async () => {
    const before = await snapshot(db, TABLE, id);
    const b = await blocker(db, TABLE);
    let r: CliResult;
    let queries: AppQuery[];
    try {
      const run = spawnCli(
        ['--lock-timeout', String(LOCK_TIMEOUT_MS), '--lock-attempts', '4', '--lock-max-delay', '100', 'advance', id, '--json'],
        { url: db.url, dir },
      );
      let exited = false;
      void run.done.then(() => (exited = true));
      queries = await appDuringContract(db, { exited: () => exited });
      r = await run.done;
    } finally {
      await b.end();
    }
    expect(r.code, r.stderr).toBe(1);
    expect(r.json()).toMatchObject({
      ok: false,
      exitCode: 1,
      error: 'lock_timeout',
      attempts: 4,
      lockTimeoutMs: LOCK_TIMEOUT_MS,
      blockers: [{ pid: b.pid, mode: 'AccessShareLock', application: 'long reader', query: b.query }],
    });
    expect(r.stderr).toContain(`pgshift: gave up after 4 attempt(s) of ${LOCK_TIMEOUT_MS} ms lock_timeout on: `);
    expect(r.stderr).toContain(`held by: pid ${b.pid} (AccessShareLock, idle in transaction, "${b.query}")`);
    const waits = logLines(r, 'waiting for a lock');
    expect(waits.length).toBeGreaterThan(0);
    expect(waits[0]!.blockers).toEqual([expect.objectContaining({ pid: b.pid, query: b.query })]);
    // The app never waited for the blocker.
    expect(queries.length).toBeGreaterThan(0);

    // Nothing of contract happened: both columns, the trigger, the ledger at backfill (with the
    // verification contract ran before its DDL recorded).
    const after = await snapshot(db, TABLE, id);
    expect({ ...after, ledger: { ...after.ledger, verifications: [] } }).toEqual(before);
    expect(after.ledger!.verifications).toHaveLength(1);
    expect(after.columns.map((c) => c.attname)).toEqual(['id', 'Status', 'state']);
    expect(after.ledger!.migrations).toEqual([{ id, state: 'backfill' }]);
    const runs = await db.query<{ status: string; error: string }>(
      `SELECT status, error FROM pgshift.phase_runs WHERE migration_id = $1 AND phase = 'contract'`,
      [id],
    );
    expect(runs).toEqual([{ status: 'failed', error: expect.stringContaining('gave up after 4 attempt(s)') }]);

    const again = await cli(['advance', id, '--json'], { url: db.url, dir });
    expect(again.code, again.stderr).toBe(0);
    expect(again.json()).toMatchObject({ migrations: [{ id, state: 'contract', complete: true }] });
    expect((await snapshot(db, TABLE)).columns.map((c) => c.attname)).toEqual(['id', 'state']);
  });
});
