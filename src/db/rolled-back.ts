import pg from 'pg';
import { LockTimeoutError, SqlState, sqlStateOf, type PlanProblem } from '../errors.js';
import { ident } from '../sql/ident.js';
import { queryRows, singleStatement, type Queryable } from './queryable.js';

const NO_ACTIVE_TRANSACTION = '25P01';

/**
 * Runs `fn` inside a transaction that is always rolled back, so whatever it tries (planning a
 * user's expression, a trial constraint on a temporary copy of a table) leaves nothing behind.
 * A pool lends one connection for it; a client gets BEGIN … ROLLBACK, or a savepoint when it is
 * already inside a transaction (whose own work must not be rolled back with ours).
 */
export async function inRolledBackTransaction<T>(db: Queryable, fn: (client: Queryable) => Promise<T>): Promise<T> {
  if (db instanceof pg.Pool) {
    const client = await db.connect();
    try {
      return await inRolledBackTransaction(client, fn);
    } finally {
      client.release();
    }
  }
  let savepoint = true;
  try {
    await db.query('SAVEPOINT pgshift_trial');
  } catch (error) {
    // Not in a transaction block (25P01), so one of our own is safe to open and roll back.
    if (sqlStateOf(error) !== NO_ACTIVE_TRANSACTION) throw error;
    savepoint = false;
    await db.query('BEGIN');
  }
  try {
    return await fn(db);
  } finally {
    if (savepoint) {
      await db.query('ROLLBACK TO SAVEPOINT pgshift_trial');
      await db.query('RELEASE SAVEPOINT pgshift_trial');
    } else {
      await db.query('ROLLBACK');
    }
  }
}

export { singleStatement };

/** How long a trial or probe waits for ACCESS SHARE on the table it reads or copies. */
export const TRIAL_LOCK_TIMEOUT_MS = 5000;

/**
 * inRolledBackTransaction with `lock_timeout` TRIAL_LOCK_TIMEOUT_MS: where inspect tries things on
 * the user's table (or a temporary copy of it), so that a busy table fails the inspection instead of
 * queueing behind a long lock. A 55P03 from `fn` is the caller's to name the statement of.
 */
export async function inTrialTransaction<T>(db: Queryable, fn: (client: Queryable) => Promise<T>): Promise<T> {
  return inRolledBackTransaction(db, async (c) => {
    await c.query(`SET LOCAL lock_timeout = ${TRIAL_LOCK_TIMEOUT_MS}`);
    return fn(c);
  });
}

export interface TrialCopy {
  client: Queryable;
  /** Runs one trial statement under a savepoint; a PostgreSQL error becomes a problem at `path.field`. */
  attempt(field: string, sql: string): Promise<boolean>;
}

/**
 * Creates an empty temporary copy of `table` named `copy` (CREATE TEMP TABLE … LIKE) in a
 * transaction that is always rolled back, and hands `body` a way to try statements on it, each
 * over the extended protocol (one statement) under its own savepoint. The table itself gets only
 * ACCESS SHARE, waited for at most TRIAL_LOCK_TIMEOUT_MS. Without the TEMPORARY privilege,
 * `noPrivilege` answers instead.
 */
export async function onTrialCopy<R>(
  db: Queryable,
  o: { table: string; copy: string; path: string; problems: PlanProblem[]; noPrivilege: () => R },
  body: (trial: TrialCopy) => Promise<R>,
): Promise<R> {
  return inTrialTransaction(db, async (c) => {
    const [priv] = await queryRows<{ temp: boolean }>(
      c,
      `SELECT pg_catalog.has_database_privilege(pg_catalog.current_database(), 'TEMPORARY') AS temp`,
    );
    if (!priv?.temp) return o.noPrivilege();
    try {
      await c.query(`CREATE TEMPORARY TABLE ${ident(o.copy)} (LIKE ${o.table})`);
    } catch (error) {
      if (sqlStateOf(error) === SqlState.lockNotAvailable)
        throw new LockTimeoutError(`CREATE TEMPORARY TABLE … (LIKE ${o.table})`, 1, TRIAL_LOCK_TIMEOUT_MS, [], { cause: error });
      throw error;
    }
    let n = 0;
    const attempt = async (field: string, sql: string): Promise<boolean> => {
      const sp = `pgshift_try_${++n}`;
      await c.query(`SAVEPOINT ${sp}`);
      try {
        await c.query(singleStatement(sql));
        await c.query(`RELEASE SAVEPOINT ${sp}`);
        return true;
      } catch (error) {
        await c.query(`ROLLBACK TO SAVEPOINT ${sp}`);
        if (!(error instanceof pg.DatabaseError)) throw error;
        o.problems.push({ path: `${o.path}.${field}`, message: error.message });
        return false;
      }
    };
    return body({ client: c, attempt });
  });
}
