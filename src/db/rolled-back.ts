import pg from 'pg';
import { sqlStateOf } from '../errors.js';
import type { Queryable } from './queryable.js';

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

export { singleStatement } from './queryable.js';
