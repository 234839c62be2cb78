import type pg from 'pg';

/** Anything that can run a query: a Pool, a Client or a PoolClient. */
export type Queryable = Pick<pg.ClientBase, 'query'>;

export async function queryRows<R extends pg.QueryResultRow>(db: Queryable, text: string, values: readonly unknown[] = []): Promise<R[]> {
  const result = await db.query<R>(text, values as unknown[]);
  return result.rows;
}

/**
 * The extended query protocol refuses several statements in one string: SQL text written by a
 * plan's author (a CHECK expression, a partial-index predicate) cannot smuggle in a second statement.
 */
export function singleStatement(text: string): pg.QueryConfig {
  return { text, values: [], queryMode: 'extended' } as pg.QueryConfig;
}
