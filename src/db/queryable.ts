import type pg from 'pg';

/** Anything that can run a query: a Pool, a Client or a PoolClient. */
export type Queryable = Pick<pg.ClientBase, 'query'>;

export async function queryRows<R extends pg.QueryResultRow>(
  db: Queryable,
  text: string,
  values: readonly unknown[] = [],
): Promise<R[]> {
  const result = await db.query<R>(text, values as unknown[]);
  return result.rows;
}
