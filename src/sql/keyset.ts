import type { KeyColumn, TableRef } from '../catalog/introspect.js';
import { ident, qualified } from './ident.js';

/**
 * Keyset SQL over a (possibly composite) key. Key values travel as text, cast back with the key's
 * own types, so any orderable type works and the ledger can store the cursor as JSON.
 * Cursor parameters come first ($1..$n), then the statement's own.
 */

function tuple(parts: string[]): string {
  return parts.length === 1 ? (parts[0] as string) : `(${parts.join(', ')})`;
}

export function keyColumns(key: readonly KeyColumn[]): string {
  return key.map((k) => ident(k.name)).join(', ');
}

function keyTuple(key: readonly KeyColumn[]): string {
  return tuple(key.map((k) => ident(k.name)));
}

function paramTuple(key: readonly KeyColumn[], first: number): string {
  return tuple(key.map((k, i) => `$${first + i}::${k.type}`));
}

function keyAsText(key: readonly KeyColumn[]): string {
  return key.map((k, i) => `${ident(k.name)}::text AS k${i}`).join(', ');
}

function after(key: readonly KeyColumn[], hasCursor: boolean): string {
  return hasCursor ? `${keyTuple(key)} > ${paramTuple(key, 1)}` : 'true';
}

export interface KeysetQuery {
  table: TableRef;
  key: readonly KeyColumn[];
}

/** The key `limit` rows past the cursor (index-only scan on the key's index). Params: cursor, offset. */
export function renderBoundary(q: KeysetQuery, hasCursor: boolean): string {
  const n = hasCursor ? q.key.length : 0;
  return (
    `SELECT ${keyAsText(q.key)} FROM ${qualified(q.table.schema, q.table.name)} ` +
    `WHERE ${after(q.key, hasCursor)} ORDER BY ${keyColumns(q.key)} LIMIT 1 OFFSET $${n + 1}`
  );
}

/** The largest key past the cursor, for the last, short range. Params: cursor. */
export function renderLastKey(q: KeysetQuery, hasCursor: boolean): string {
  const desc = q.key.map((k) => `${ident(k.name)} DESC`).join(', ');
  return (
    `SELECT ${keyAsText(q.key)} FROM ${qualified(q.table.schema, q.table.name)} ` +
    `WHERE ${after(q.key, hasCursor)} ORDER BY ${desc} LIMIT 1`
  );
}

/** One backfill batch over (cursor, upper]. Params: cursor, upper. */
export function renderBatchUpdate(
  q: KeysetQuery & { set: readonly { column: string; expression: string }[]; pending: string },
  hasCursor: boolean,
): string {
  const n = hasCursor ? q.key.length : 0;
  const set = q.set.map((s) => `${ident(s.column)} = ${s.expression}`).join(', ');
  return (
    `UPDATE ${qualified(q.table.schema, q.table.name)} SET ${set} ` +
    `WHERE ${after(q.key, hasCursor)} AND ${keyTuple(q.key)} <= ${paramTuple(q.key, n + 1)} AND (${q.pending})`
  );
}

/**
 * One verification chunk: the next `limit` rows past the cursor, how many of them mismatch, their
 * keys, and the last key seen. Params: cursor, limit.
 */
export function renderVerifyChunk(q: KeysetQuery & { mismatch: string }, hasCursor: boolean): string {
  const n = hasCursor ? q.key.length : 0;
  const keyJson = `jsonb_build_array(${q.key.map((k) => `${ident(k.name)}::text`).join(', ')})`;
  return (
    `SELECT count(*)::int AS rows, count(*) FILTER (WHERE bad)::int AS mismatches, ` +
    `jsonb_agg(key ORDER BY rn) FILTER (WHERE bad) AS bad_keys, (array_agg(key ORDER BY rn DESC))[1] AS last_key ` +
    `FROM (SELECT ${keyJson} AS key, (${q.mismatch}) AS bad, row_number() OVER (ORDER BY ${keyColumns(q.key)}) AS rn ` +
    `FROM ${qualified(q.table.schema, q.table.name)} WHERE ${after(q.key, hasCursor)} ` +
    `ORDER BY ${keyColumns(q.key)} LIMIT $${n + 1}) chunk`
  );
}
