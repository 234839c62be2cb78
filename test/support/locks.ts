import pg from 'pg';
import type { TestDatabase } from './database.js';

/**
 * A session that reads `table` in a transaction it keeps open: it holds ACCESS SHARE until
 * `end`, so any DDL on the table waits for it. `query` is what pg_stat_activity shows for it.
 */
export async function blocker(db: Pick<TestDatabase, 'url'>, table: string, application = 'long reader') {
  const c = new pg.Client({ connectionString: db.url, application_name: application });
  await c.connect();
  const [{ pid }] = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [{ pid: number }];
  const query = `SELECT count(*) FROM ${table}`;
  await c.query('BEGIN');
  await c.query(query);
  return { pid, query, end: async () => (await c.query('COMMIT'), await c.end()) };
}

/** Whether a backend of `application` in this database (others run tests too) waits for a lock on `table`. */
export async function waitsForLock(db: TestDatabase, table: string, application: string): Promise<boolean> {
  const rows = await db.query(
    `SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE NOT l.granted AND l.locktype = 'relation' AND l.relation = $1::regclass AND a.application_name = $2
        AND a.datname = current_database()`,
    [table, application],
  );
  return rows.length > 0;
}
