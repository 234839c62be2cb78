import { ident, qualified } from './ident.js';
import { keyAsText, keyColumns, within, type Bounds, type KeysetQuery } from './keyset.js';

/**
 * One verification chunk in a single pass over the key index: the next `limit` rows of
 * (cursor, end] in key order, how many of them mismatch, and the chunk's last key (k0, k1, …,
 * null when the range is exhausted). Finding the chunk's upper key with a separate `OFFSET` query
 * first read every row of the chunk twice: right after a backfill the visibility map has no
 * all-visible pages, so that "index-only" scan fetched each heap tuple too.
 * Params: cursor (if any), end (if any), limit.
 */
export function renderVerifyChunk(q: KeysetQuery & { mismatch: string }, b: Bounds): string {
  const { where, next } = within(q.key, b);
  const cols = keyColumns(q.key);
  const desc = q.key.map((k) => `${ident(k.name)} DESC`).join(', ');
  return (
    `WITH chunk AS MATERIALIZED (SELECT ${cols}, (${q.mismatch}) AS pgshift_mismatch FROM ${qualified(q.table.schema, q.table.name)} ` +
    `WHERE ${where} ORDER BY ${cols} LIMIT $${next}) ` +
    `SELECT (SELECT count(*)::int FROM chunk) AS rows, (SELECT count(*)::int FROM chunk WHERE pgshift_mismatch) AS mismatches, last.* ` +
    `FROM (SELECT 1) AS one LEFT JOIN (SELECT ${keyAsText(q.key)} FROM chunk ORDER BY ${desc} LIMIT 1) AS last ON true`
  );
}
