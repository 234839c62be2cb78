import { queryRows, type Queryable } from '../db/queryable.js';
import type { BackfillTask } from '../plan/steps.js';
import { qualified } from '../sql/ident.js';

/** Up to this many heap pages (64 MiB at 8 kB), the rows still to backfill are counted exactly. */
const EXACT_COUNT_PAGES = 8192;

/**
 * How many rows the backfill will still update: rows where its `pending` predicate holds (NULL
 * rows for setNotNull, rows out of sync for a rename), not every row of the table, so that the
 * percentage and the ETA measure the work actually left. A small table is counted; a large one
 * takes the planner's estimate for the predicate (EXPLAIN, nothing read), as exact counting
 * would scan the table before the first batch.
 */
export async function estimatePendingRows(db: Queryable, task: Pick<BackfillTask, 'table' | 'pending'>): Promise<number | null> {
  const from = `${qualified(task.table.schema, task.table.name)} WHERE (${task.pending})`;
  // The file size, not relpages: relpages is 0 until the first VACUUM or ANALYZE.
  const [size] = await queryRows<{ pages: string }>(
    db,
    `SELECT pg_catalog.pg_relation_size(c.oid) / current_setting('block_size')::int AS pages
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2`,
    [task.table.schema, task.table.name],
  );
  if (!size) return null;
  if (Number(size.pages) <= EXACT_COUNT_PAGES) {
    const [row] = await queryRows<{ n: string }>(db, `SELECT count(*) AS n FROM ${from}`);
    return Number(row!.n);
  }
  const [plan] = await queryRows<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(db, `EXPLAIN (FORMAT JSON) SELECT 1 FROM ${from}`);
  return Math.round(plan!['QUERY PLAN'][0].Plan['Plan Rows']);
}
