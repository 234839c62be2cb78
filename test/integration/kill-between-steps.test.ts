import pg from 'pg';
import { beforeAll, describe, expect, test } from 'vitest';
import { snapshot } from '../support/catalog.js';
import { cli, spawnCli } from '../support/cli.js';
import { useDatabase, type TestDatabase } from '../support/database.js';
import { planDir } from '../support/plans.js';
import { until } from '../support/wait.js';

/**
 * The orchestrator SIGKILLed between two steps of expand or of contract, then run again. It is
 * stopped at the exact step by a session holding a conflicting lock (so the step waits, seen in
 * pg_locks / pg_stat_progress_create_index), never by a timer. The rerun must converge to what an
 * uninterrupted run gives (a control database), leave no INVALID index and no helper constraint,
 * and the ledger must show the killed run as interrupted and the rerun as succeeded.
 *
 * One migration whose phases have several steps of every kind:
 *   expand:   CREATE INDEX CONCURRENTLY on A, then on B (tx 'none'), then one phase transaction
 *             (ADD CHECK NOT VALID on A, ADD COLUMN on C);
 *   contract: VALIDATE on A, ADD CHECK ("e Mail" IS NOT NULL) NOT VALID and VALIDATE on B (each
 *             tx 'own'; setNotNull's), then one phase transaction (SET NOT NULL and drops on B,
 *             the rename's drops on C).
 */

const ROWS = 2_000;
const ID = '20261301_kill';
const A = '"Ledger ""A"""';
const B = '"Ledger B"';
const C = '"ledger C"';
const TABLES = [A, B, C];

const PLAN = {
  [`${ID}.json`]: {
    id: ID,
    operations: [
      { kind: 'createIndex', table: 'Ledger "A"', name: 'A amount', columns: ['Amount'] },
      { kind: 'createIndex', table: 'Ledger B', name: 'B code', columns: ['code'] },
      { kind: 'addCheck', table: 'Ledger "A"', name: 'A positive', check: '"Amount" > 0' },
      { kind: 'setNotNull', table: 'Ledger B', column: 'e Mail', fill: `'none'` },
      { kind: 'renameColumn', table: 'ledger C', from: 'label', to: 'Title' },
    ],
  },
};

async function setup(db: TestDatabase) {
  await db.query(`CREATE TABLE ${A} (id int PRIMARY KEY, "Amount" int NOT NULL, note text)`);
  await db.query(`INSERT INTO ${A} SELECT g, g, 'n' FROM generate_series(1, ${ROWS}) g`);
  await db.query(`CREATE TABLE ${B} (id int PRIMARY KEY, "e Mail" text, code int)`);
  await db.query(`INSERT INTO ${B} SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'u' || g END, g % 100 FROM generate_series(1, ${ROWS}) g`);
  await db.query(`CREATE TABLE ${C} (id int PRIMARY KEY, label text)`);
  await db.query(`INSERT INTO ${C} SELECT g, 'l' || g FROM generate_series(1, ${ROWS}) g`);
  // What a server with keepalives does sooner or later: notice that the client is gone, even in
  // a lock wait, and end the backend (rolling back what it did in its transaction).
  await db.query(`ALTER DATABASE ${db.name} SET client_connection_check_interval = '100ms'`);
}

/** The three tables' catalog and a digest of their rows: what must match the control database. */
async function state(db: TestDatabase) {
  const out: Record<string, unknown> = {};
  for (const t of TABLES) {
    const { columns, constraints, indexes, triggers, functions } = await snapshot(db, t);
    const [{ digest }] = (await db.query<{ digest: string }>(`SELECT md5(string_agg(x::text, ',' ORDER BY id)) AS digest FROM ${t} x`)) as [
      { digest: string },
    ];
    out[t] = { columns, constraints, indexes, triggers, functions, digest };
  }
  return out;
}

const invalidIndexes = (db: TestDatabase) =>
  db.query(`SELECT indexrelid::regclass::text AS name FROM pg_index WHERE NOT (indisvalid AND indisready)`);

async function holdLock(db: TestDatabase, sql: string) {
  const c = new pg.Client({ connectionString: db.url, application_name: 'blocker' });
  await c.connect();
  await c.query('BEGIN');
  await c.query(sql);
  return { end: async () => (await c.query('ROLLBACK'), await c.end()) };
}

/** pgshift's backend (in this database: other test files run theirs) waiting for a lock on `table`. */
function waitingOn(db: TestDatabase, table: string, locktype = 'relation') {
  return db
    .query(
      `SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE NOT l.granted AND a.application_name = 'pgshift advance' AND a.datname = current_database()
        AND (l.locktype = $2 AND ($2 <> 'relation' OR l.relation = $1::regclass))`,
      [table, locktype],
    )
    .then((rows) => rows.length > 0);
}

interface KillPoint {
  when: string;
  phase: 'expand' | 'contract';
  /** Runs before the killed advance: it leaves the migration where that advance starts. */
  before: string[] | null;
  /** A statement holding the lock that stops the advance at the chosen step. */
  blocker: string;
  /** True once pgshift waits there. */
  reached(db: TestDatabase): Promise<boolean>;
  /** What the killed run did and did not do by then. */
  atKill(db: TestDatabase): Promise<void>;
  /** INVALID indexes the kill leaves for the rerun to clean up. */
  leftInvalid?: string[];
}

const indexValidity = (db: TestDatabase) =>
  db.query(
    `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname IN ('A amount', 'B code') ORDER BY 1`,
  );
const constraintsOf = (db: TestDatabase, table: string) =>
  db.query(
    `SELECT conname AS name, convalidated AS validated FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c' ORDER BY 1`,
    [table],
  );

const POINTS: KillPoint[] = [
  {
    when: 'in expand, inside the second CREATE INDEX CONCURRENTLY (its index INVALID), the first one built',
    phase: 'expand',
    before: null,
    // A writer's open transaction on B: the build waits for it after creating the index INVALID.
    blocker: `UPDATE ${B} SET code = code WHERE id = 1`,
    leftInvalid: ['"B code"'],
    reached: (db) =>
      db
        .query(
          `SELECT 1 FROM pg_stat_progress_create_index WHERE datname = current_database() AND relid = $1::regclass AND phase LIKE 'waiting for writers%'`,
          [B],
        )
        .then((r) => r.length > 0),
    async atKill(db) {
      expect(await indexValidity(db)).toEqual([
        { name: 'A amount', valid: true },
        { name: 'B code', valid: false },
      ]);
      expect(await constraintsOf(db, A)).toEqual([]);
    },
  },
  {
    when: 'in expand, after both CONCURRENTLY builds, before the phase transaction commits',
    phase: 'expand',
    before: null,
    blocker: `SELECT count(*) FROM ${C}`,
    reached: (db) => waitingOn(db, C),
    async atKill(db) {
      expect(await indexValidity(db)).toEqual([
        { name: 'A amount', valid: true },
        { name: 'B code', valid: true },
      ]);
      expect(await constraintsOf(db, A)).toEqual([]);
    },
  },
  {
    when: 'in contract, after VALIDATE on A, before the NOT NULL check on B (own transactions)',
    phase: 'contract',
    before: ['advance', '--to', 'backfill'],
    blocker: `SELECT count(*) FROM ${B}`,
    reached: (db) => waitingOn(db, B),
    async atKill(db) {
      expect(await constraintsOf(db, A)).toEqual([{ name: 'A positive', validated: true }]);
      expect(await constraintsOf(db, B)).toEqual([]);
    },
  },
  {
    when: 'in contract, after every own-transaction step, before the phase transaction commits',
    phase: 'contract',
    before: ['advance', '--to', 'backfill'],
    blocker: `SELECT count(*) FROM ${C}`,
    reached: (db) => waitingOn(db, C),
    async atKill(db) {
      expect(await constraintsOf(db, A)).toEqual([{ name: 'A positive', validated: true }]);
      // The NOT NULL helper check is there and validated; the column is not NOT NULL yet, C's old column still there.
      expect(await constraintsOf(db, B)).toEqual([{ name: expect.stringMatching(/^pgshift_nn_/), validated: true }]);
      expect(await db.query(`SELECT attnotnull FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'e Mail'`, [B])).toEqual([
        { attnotnull: false },
      ]);
      expect(
        (await db.query(`SELECT 1 FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'label' AND NOT attisdropped`, [C])).length,
      ).toBe(1);
    },
  },
];

describe('SIGKILL between steps, then a rerun', () => {
  const control = useDatabase();
  const dir = planDir(PLAN);
  const expected: Record<'expand' | 'contract', Record<string, unknown>> = { expand: {}, contract: {} };

  beforeAll(async () => {
    await setup(control);
    expect((await cli(['advance', '--to', 'expand'], { url: control.url, dir })).code).toBe(0);
    expected.expand = await state(control);
    const r = await cli(['advance', '--to', 'contract'], { url: control.url, dir });
    expect(r.code, r.stderr).toBe(0);
    expected.contract = await state(control);
  });

  describe.each(POINTS)('killed $when', (point) => {
    const db = useDatabase();

    beforeAll(async () => {
      await setup(db);
      if (point.before) expect((await cli(point.before, { url: db.url, dir })).code).toBe(0);
    });

    test('the rerun converges to the uninterrupted result; the ledger shows interrupted, then succeeded', async () => {
      const blocker = await holdLock(db, point.blocker);
      let pids: number[] = [];
      try {
        // A long lock_timeout, so that the step waits there until it is killed.
        const run = spawnCli(['--lock-timeout', '600000', 'advance', ID], { url: db.url, dir });
        await until(() => point.reached(db), `pgshift waiting at the step (${point.when})`);
        pids = (
          await db.query<{ pid: number }>(
            `SELECT pid FROM pg_stat_activity WHERE application_name = 'pgshift advance' AND datname = current_database()`,
          )
        ).map((r) => r.pid);
        expect(pids.length).toBeGreaterThan(0);
        await point.atKill(db);
        run.child.kill('SIGKILL');
        const killed = await run.done;
        expect(run.child.signalCode).toBe('SIGKILL');
        expect(killed.stdout).toBe('');
        // The server ends the dead client's backends, even the one still waiting for the lock.
        await until(
          async () => (await db.query(`SELECT 1 FROM pg_stat_activity WHERE pid = ANY($1)`, [pids])).length === 0,
          "the killed orchestrator's backends to end",
        );
      } finally {
        await blocker.end();
      }
      expect((await invalidIndexes(db)).map((r) => r.name)).toEqual(point.leftInvalid ?? []);
      const [row] = await db.query(`SELECT state FROM pgshift.migrations WHERE id = $1`, [ID]);
      expect(row?.state ?? 'pending').toBe(point.phase === 'expand' ? 'pending' : 'backfill');

      const rerun = await cli(['advance', ID, '--json'], { url: db.url, dir });
      expect(rerun.code, rerun.stderr).toBe(0);
      expect(rerun.json()).toMatchObject({ migrations: [{ id: ID, state: point.phase }] });
      expect(await invalidIndexes(db)).toEqual([]);
      expect(await state(db)).toEqual(expected[point.phase]);
      const runs = await db.query<{ phase: string; status: string }>(
        `SELECT phase, status FROM pgshift.phase_runs WHERE migration_id = $1 AND action = 'apply' AND phase = $2 ORDER BY id`,
        [ID, point.phase],
      );
      expect(runs).toEqual([
        { phase: point.phase, status: 'interrupted' },
        { phase: point.phase, status: 'succeeded' },
      ]);

      // And from there on to the end, as if nothing had happened.
      const rest = await cli(['advance', '--to', 'contract'], { url: db.url, dir });
      expect(rest.code, rest.stderr).toBe(0);
      expect(await state(db)).toEqual(expected.contract);
      expect(await invalidIndexes(db)).toEqual([]);
    });
  });
});
