import pg from 'pg';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { acquireOrchestratorLock } from '../../src/db/advisory-lock.js';
import { ConnectionPooledError, LockNotReleasedError } from '../../src/errors.js';
import { cli, spawnCli, type CliResult } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { PGBOUNCER_MISSING, startPgBouncer, usePgBouncers } from '../support/pgbouncer.js';
import { planDir, renamePlan } from '../support/plans.js';
import { until } from '../support/wait.js';

/**
 * gh issue 8, part 1: through PgBouncer in transaction mode two `pgshift advance` both ran (the
 * session advisory lock landed on whichever backend served the query, was re-entrant there and
 * was unlocked elsewhere). Now pgshift proves its connection keeps a backend to itself before it
 * locks anything: through transaction or statement pooling it refuses (exit 2, no ledger), through
 * session pooling exactly one runs and the other is busy (exit 4). Every test runs through a real
 * PgBouncer in front of the run's server; no lock may be left on any backend.
 */

const ID = '20261208_pooler_lock';
const ROWS = 3_000;
/** Repetitions of each race; the counts are printed with the results. */
const TRIALS = 5;

describe(`pgshift behind PgBouncer takes its lock only on a backend of its own${PGBOUNCER_MISSING ? ` (${PGBOUNCER_MISSING})` : ''}`, () => {
  if (PGBOUNCER_MISSING) {
    test.skip(PGBOUNCER_MISSING, () => undefined);
    return;
  }
  const db = useDatabase();
  const bouncers = usePgBouncers(() => db.url, ['transaction', 'session', 'statement']);
  const via = (mode: 'transaction' | 'session' | 'statement') => bouncers[mode]!.through(db.url);
  let dir: string;
  const advisoryLocks = () =>
    db.query<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
  const ledgerExists = async () => (await db.query<{ e: boolean }>(`SELECT to_regnamespace('pgshift') IS NOT NULL AS e`))[0]!.e;
  const refusedAsPooled = (r: CliResult, mode: 'transaction' | 'statement') => {
    expect(r.code, r.stderr).toBe(2);
    expect(r.json()).toMatchObject({ ok: false, exitCode: 2, error: 'connection_pooled', poolMode: mode });
    expect(r.stderr).toContain(`${mode} pooling detected`);
    expect(r.stderr).toContain('connect it directly to PostgreSQL, or through a session-mode pool');
  };

  beforeAll(async () => {
    dir = planDir(renamePlan(ID, { table: 'items', from: 'label', to: 'title' }));
    await db.query(`CREATE TABLE items (id bigint PRIMARY KEY, label text)`);
    await db.query(`INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, ${ROWS}) g`);
  });

  afterEach(async () => {
    // No test may leave the orchestrator lock (or any advisory lock) on any backend of this database.
    expect(await advisoryLocks()).toEqual([]);
  });

  test(`two advance started together through transaction pooling are both refused, ledger never created (${TRIALS} trials)`, async () => {
    for (let trial = 0; trial < TRIALS; trial++) {
      const both = await Promise.all([0, 1].map(() => spawnCli(['advance', '--json'], { url: via('transaction'), dir }).done));
      for (const r of both) refusedAsPooled(r, 'transaction');
      expect(await ledgerExists()).toBe(false);
      expect(await advisoryLocks()).toEqual([]);
    }
  });

  test('statement pooling is refused too, naming it', async () => {
    refusedAsPooled(await cli(['advance', '--json'], { url: via('statement'), dir }), 'statement');
    expect(await ledgerExists()).toBe(false);
  });

  test('verify, rollback and stamp through transaction pooling are refused the same way', async () => {
    for (const args of [['verify'], ['rollback', ID], ['stamp', ID, '--phase', 'expand']]) {
      const r = await cli([...args, '--json'], { url: via('transaction'), dir });
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(2);
      expect(r.json()).toMatchObject({ error: 'connection_pooled' });
    }
    expect(await ledgerExists()).toBe(false);
  });

  test(`two advance started together through session pooling: exactly one runs, the other exits 4 naming it (${TRIALS} trials)`, async () => {
    const direct = (...args: string[]) => cli(args, { url: db.url, dir });
    for (let trial = 0; trial < TRIALS; trial++) {
      expect((await direct('advance', '--to', 'dual-write')).code).toBe(0);
      // Paused, the winner's backfill holds its lock until resumed: the race cannot end before both have tried.
      expect((await direct('pause', ID)).code).toBe(0);
      const runs = [0, 1].map(() => spawnCli(['advance', '--batch-size', '500', '--json'], { url: via('session'), dir }));
      const loser = await Promise.race(runs.map((r, i) => r.done.then((result) => ({ i, result }))));
      expect(loser.result.code, loser.result.stderr).toBe(4);
      const [holder] = await advisoryLocks();
      expect(loser.result.json()).toMatchObject({
        error: 'orchestrator_busy',
        holderPid: holder!.pid,
        holderApplication: 'pgshift advance',
      });
      expect(loser.result.stderr).toContain(`another pgshift orchestrator is running on this database: backend pid ${holder!.pid}`);

      // While the winner runs: a third advance through transaction pooling is refused as pooled, one through session pooling is busy.
      refusedAsPooled(await cli(['advance', '--json'], { url: via('transaction'), dir }), 'transaction');
      expect((await cli(['advance', '--json'], { url: via('session'), dir })).code).toBe(4);
      // The winner's run is still the one running, not marked interrupted by the others.
      const runsNow = await db.query<{ status: string }>(
        `SELECT status FROM pgshift.phase_runs WHERE migration_id = $1 AND phase = 'backfill' AND status IN ('running', 'interrupted')`,
        [ID],
      );
      expect(runsNow).toEqual([{ status: 'running' }]);

      expect((await direct('resume', ID)).code).toBe(0);
      const winner = await runs[1 - loser.i]!.done;
      expect(winner.code, winner.stderr).toBe(0);
      expect(winner.json()).toMatchObject({ ok: true, migrations: [{ id: ID, state: 'backfill' }] });
      const [done] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM items WHERE title = label`);
      expect(Number(done!.n)).toBe(ROWS);
      expect(await advisoryLocks()).toEqual([]);
      expect((await direct('rollback', ID)).code).toBe(0);
    }
  });

  test('an advance killed through session pooling leaves no lock; the next one through the pooler resumes', async () => {
    expect((await cli(['advance', '--to', 'dual-write'], { url: db.url, dir })).code).toBe(0);
    expect((await cli(['pause', ID], { url: db.url, dir })).code).toBe(0);
    const run = spawnCli(['advance'], { url: via('session'), dir });
    await until(async () => (await advisoryLocks()).length > 0, 'the killed advance to take its lock');
    run.child.kill('SIGKILL');
    await run.done;
    // PgBouncer resets the session (DISCARD ALL) when its client goes: the lock goes with it.
    await until(async () => (await advisoryLocks()).length === 0, 'the lock of the killed advance to go');
    expect((await cli(['resume', ID], { url: db.url, dir })).code).toBe(0);
    const rerun = await cli(['advance', '--json'], { url: via('session'), dir });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.json()).toMatchObject({ migrations: [{ id: ID, state: 'backfill' }] });
    expect((await cli(['rollback', ID], { url: db.url, dir })).code).toBe(0);
  });
});

describe(`pooling is detected by what the connection observes, whatever the pool's order${PGBOUNCER_MISSING ? ` (${PGBOUNCER_MISSING})` : ''}`, () => {
  if (PGBOUNCER_MISSING) {
    test.skip(PGBOUNCER_MISSING, () => undefined);
    return;
  }
  const db = useDatabase();
  const advisoryLocks = () =>
    db.query<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );

  /** Opens `n` connections through `url`, each running a query, so that `n` server backends sit idle in the pool. */
  async function warm(url: string, n: number): Promise<void> {
    const clients = Array.from({ length: n }, () => new pg.Client({ connectionString: url }));
    await Promise.all(clients.map(async (c) => (await c.connect(), await c.query('BEGIN'), await c.query('SELECT 1'))));
    await Promise.all(clients.map(async (c) => (await c.query('COMMIT'), await c.end())));
  }

  test.each([
    { order: 'LIFO (the default)', settings: { server_round_robin: 0 } },
    { order: 'round robin', settings: { server_round_robin: 1 } },
  ])('transaction pooling, $order, with 0 to 5 idle backends: always refused', async ({ settings }) => {
    const bouncer = await startPgBouncer(db.url, 'transaction', { settings });
    const outcomes: string[] = [];
    try {
      for (let idle = 0; idle <= 5; idle++) {
        await warm(bouncer.through(db.url), idle);
        const error = await acquireOrchestratorLock({ connectionString: bouncer.through(db.url) }).then(
          async (lock) => (await lock.release(), null),
          (e: unknown) => e,
        );
        expect(error, `${idle} idle backend(s)`).toBeInstanceOf(ConnectionPooledError);
        outcomes.push((error as ConnectionPooledError).observed);
      }
    } finally {
      await bouncer.stop();
    }
    expect(outcomes).toHaveLength(6);
  });

  test('session pooling with idle backends is never taken for transaction pooling', async () => {
    const bouncer = await startPgBouncer(db.url, 'session', { settings: { server_round_robin: 1 } });
    try {
      for (let idle = 0; idle <= 5; idle++) {
        await warm(bouncer.through(db.url), idle);
        const lock = await acquireOrchestratorLock({ connectionString: bouncer.through(db.url) });
        expect(await advisoryLocks()).toEqual([{ pid: lock.backendPid }]);
        await lock.release();
      }
    } finally {
      await bouncer.stop();
    }
  });

  test('a full session pool: the probes that get no backend are given up on, and the lock is taken', async () => {
    const bouncer = await startPgBouncer(db.url, 'session', { poolSize: 1 });
    try {
      const lock = await acquireOrchestratorLock({ connectionString: bouncer.through(db.url) });
      expect(lock.shortOfProbes).toMatch(/^probe 1 of 3 got no server connection/);
      expect(await advisoryLocks()).toEqual([{ pid: lock.backendPid }]);
      await lock.release();
    } finally {
      await bouncer.stop();
    }
  });

  test('a backend that already holds the lock is refused: a session pool that does not reset sessions handed it over', async () => {
    // server_reset_query empty: a lock left by one client stays on the backend the next client gets.
    const bouncer = await startPgBouncer(db.url, 'session', { settings: { server_reset_query: '' } });
    try {
      const leaver = new pg.Client({ connectionString: bouncer.through(db.url) });
      await leaver.connect();
      await leaver.query('SELECT pg_advisory_lock($1, $2)', [0x70677368, 0x69667421]);
      const [{ pid: leftOn }] = (await leaver.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [{ pid: number }];
      await leaver.end();
      const error = await acquireOrchestratorLock({ connectionString: bouncer.through(db.url) }).then(
        async (lock) => (await lock.release(), null),
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConnectionPooledError);
      expect(error).toMatchObject({ backendPids: [leftOn] });
      expect((error as Error).message).toContain(`backend pid ${leftOn} already holds the pgshift lock`);
    } finally {
      await bouncer.stop();
    }
    await until(async () => (await advisoryLocks()).length === 0, 'the leaked lock to go with PgBouncer');
  });

  test('an unlock that releases nothing is an error naming both backends, not silence', async () => {
    const lock = await acquireOrchestratorLock({ connectionString: db.url });
    // Released behind pgshift's back (as a pooler's reset would): the unlock then finds nothing to release.
    await lock.client.query('SELECT pg_advisory_unlock_all()');
    const error = await lock.release().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LockNotReleasedError);
    expect(error).toMatchObject({
      code: 'lock_not_released',
      exitCode: 1,
      lockedOnPid: lock.backendPid,
      unlockedOnPid: lock.backendPid,
      holderPids: [],
    });
  });
});
