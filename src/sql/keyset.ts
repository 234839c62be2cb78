import type { KeyColumn, TableRef } from '../catalog/introspect.js';
import { ident, qualified } from './ident.js';

/**
 * Keyset SQL over a (possibly composite) key. Key values travel as text, cast back with the key's
 * own types, so any orderable type works and the ledger can store the cursor as JSON.
 * Parameters come in this order: the cursor ($1..$n, when there is one), the range end (when
 * there is one), then the statement's own.
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

export function keyAsText(key: readonly KeyColumn[]): string {
  return key.map((k, i) => `${ident(k.name)}::text AS k${i}`).join(', ');
}

export interface KeysetQuery {
  table: TableRef;
  key: readonly KeyColumn[];
}

/** Which bounds a statement has: (cursor, end]. */
export interface Bounds {
  cursor: boolean;
  end: boolean;
}

/** The WHERE clause for (cursor, end] and the number of the next free parameter. */
function within(key: readonly KeyColumn[], b: Bounds): { where: string; next: number } {
  const parts: string[] = [];
  let next = 1;
  if (b.cursor) {
    parts.push(`${keyTuple(key)} > ${paramTuple(key, next)}`);
    next += key.length;
  }
  if (b.end) {
    parts.push(`${keyTuple(key)} <= ${paramTuple(key, next)}`);
    next += key.length;
  }
  return { where: parts.length ? parts.join(' AND ') : 'true', next };
}

/** The key `offset + 1` rows into (cursor, end] (an index-only scan on the key's index). Params: bounds, offset. */
export function renderBoundary(q: KeysetQuery, b: Bounds): string {
  const { where, next } = within(q.key, b);
  return `SELECT ${keyAsText(q.key)} FROM ${qualified(q.table.schema, q.table.name)} WHERE ${where} ORDER BY ${keyColumns(q.key)} LIMIT 1 OFFSET $${next}`;
}

/** The largest key in (cursor, end], for the last, short range. Params: bounds. */
export function renderLastKey(q: KeysetQuery, b: Bounds): string {
  const { where } = within(q.key, b);
  const desc = q.key.map((k) => `${ident(k.name)} DESC`).join(', ');
  return `SELECT ${keyAsText(q.key)} FROM ${qualified(q.table.schema, q.table.name)} WHERE ${where} ORDER BY ${desc} LIMIT 1`;
}

/** One backfill batch over (cursor, upper]. Params: cursor (if any), upper. */
export function renderBatchUpdate(
  q: KeysetQuery & { set: readonly { column: string; expression: string }[]; pending: string },
  hasCursor: boolean,
): string {
  const { where } = within(q.key, { cursor: hasCursor, end: true });
  const set = q.set.map((s) => `${ident(s.column)} = ${s.expression}`).join(', ');
  return `UPDATE ${qualified(q.table.schema, q.table.name)} SET ${set} WHERE ${where} AND (${q.pending})`;
}

/**
 * One verification chunk over (cursor, upper] (upper found with renderBoundary/renderLastKey):
 * the rows and how many of them mismatch, counted in the server. Params: cursor (if any), upper.
 */
export function renderVerifyCount(q: KeysetQuery & { mismatch: string }, hasCursor: boolean): string {
  const { where } = within(q.key, { cursor: hasCursor, end: true });
  return (
    `SELECT count(*)::int AS rows, count(*) FILTER (WHERE ${q.mismatch})::int AS mismatches ` +
    `FROM ${qualified(q.table.schema, q.table.name)} WHERE ${where}`
  );
}

/** The first mismatching keys of a chunk that has some. Params: cursor (if any), upper, limit. */
export function renderMismatchKeys(q: KeysetQuery & { mismatch: string }, hasCursor: boolean): string {
  const { where, next } = within(q.key, { cursor: hasCursor, end: true });
  return (
    `SELECT ${keyAsText(q.key)} FROM ${qualified(q.table.schema, q.table.name)} ` +
    `WHERE ${where} AND (${q.mismatch}) ORDER BY ${keyColumns(q.key)} LIMIT $${next}`
  );
}

/**
 * Keys in key order with their total count, for splitting the table among workers: a block
 * sample (Params: percent) on big tables, every key on small ones.
 */
export function renderKeySample(q: KeysetQuery, sampled: boolean): string {
  return (
    `SELECT ${keyAsText(q.key)}, count(*) OVER () AS total FROM ${qualified(q.table.schema, q.table.name)}` +
    `${sampled ? ' TABLESAMPLE SYSTEM ($1)' : ''} ORDER BY ${keyColumns(q.key)}`
  );
}
