import type pg from 'pg';
import type { TableRef } from '../catalog/introspect.js';
import { dropReindexLeftover, reindexConcurrently, reindexLeftovers } from '../db/concurrent-index.js';
import type { LockPolicy } from '../db/lock-retry.js';
import { queryRows, type Queryable } from '../db/queryable.js';
import { LockTimeoutError } from '../errors.js';
import type { Logger } from '../logger.js';
import { literal, qualified } from '../sql/ident.js';

/**
 * The indexes' side of a backfill (`--reindex-after`): every updated row adds an entry to every
 * index whose pages it cannot reuse, so a backfill leaves the indexes about twice their size, and
 * VACUUM does not shrink them. After the backfill, each index of the table that grew to at least
 * `growth` times its size before the backfill is rebuilt with REINDEX INDEX CONCURRENTLY
 * (src/db/concurrent-index.ts: own connection, short lock_timeout, bounded retries, INVALID
 * leftovers dropped). Resumable: the sizes before are kept with the backfill's progress, an index
 * already rebuilt is no longer grown, and an interrupted rebuild's INVALID copy is dropped first.
 */

/** One valid index of the table and its size (pg_relation_size), in bytes. */
export interface IndexSize {
  name: string;
  bytes: number;
}

/** Valid indexes of the table with their sizes; REINDEX leftovers (invalid) are not among them. */
export async function indexSizes(db: Queryable, table: TableRef): Promise<IndexSize[]> {
  const rows = await queryRows<{ name: string; bytes: string }>(
    db,
    `SELECT i.relname AS name, pg_catalog.pg_relation_size(i.oid) AS bytes
       FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
      WHERE x.indrelid = ${literal(qualified(table.schema, table.name))}::regclass AND x.indisvalid
      ORDER BY i.relname`,
  );
  return rows.map((r) => ({ name: r.name, bytes: Number(r.bytes) }));
}

export interface ReindexedIndex {
  index: string;
  /** Size before the backfill, before the REINDEX (after the backfill), and after it; bytes. */
  bytesBefore: number;
  bytesGrown: number;
  bytesAfter: number | null;
  /** bytesGrown / bytesBefore. */
  growth: number | null;
  action: 'reindexed' | 'not grown' | 'skipped';
  reason: string | null;
  ms: number | null;
}

export interface ReindexSummary {
  /** The threshold: indexes at least this many times their size before are rebuilt. */
  growthAtLeast: number;
  indexes: ReindexedIndex[];
  /** INVALID `_ccnew`/`_ccold` indexes of an interrupted REINDEX found and dropped first. */
  droppedLeftovers: string[];
  ms: number;
}

export interface ReindexOptions {
  pool: pg.Pool;
  log: Logger;
  lockPolicy: LockPolicy;
  table: TableRef;
  /** Sizes recorded before the backfill first started. */
  before: readonly IndexSize[];
  growthAtLeast: number;
}

const ratio = (after: number, before: number) => (before > 0 ? Number((after / before).toFixed(2)) : null);

/**
 * Rebuilds, one at a time, the indexes that grew past the threshold. An index whose lock is not
 * free within the lock policy's retries is skipped and reported (the backfill itself is done; a
 * rerun of the phase, or `REINDEX INDEX CONCURRENTLY` by hand, can finish it); any other failure
 * is thrown after the INVALID copy is dropped.
 */
export async function reindexGrown(options: ReindexOptions): Promise<ReindexSummary> {
  const { pool, log, table } = options;
  const t0 = performance.now();
  const names = options.before.map((i) => i.name);
  const indexOptions = { pool, log, lockPolicy: options.lockPolicy };
  const droppedLeftovers: string[] = [];
  for (const leftover of await reindexLeftovers(pool, table, names)) {
    await dropReindexLeftover(indexOptions, leftover);
    droppedLeftovers.push(leftover.name);
  }
  const now = new Map((await indexSizes(pool, table)).map((i) => [i.name, i.bytes]));
  const indexes: ReindexedIndex[] = [];
  for (const before of options.before) {
    const grown = now.get(before.name);
    if (grown === undefined) continue; // dropped meanwhile: nothing to rebuild
    const growth = ratio(grown, before.bytes);
    const entry: ReindexedIndex = {
      index: before.name,
      bytesBefore: before.bytes,
      bytesGrown: grown,
      bytesAfter: null,
      growth,
      action: 'not grown',
      reason: null,
      ms: null,
    };
    indexes.push(entry);
    if (growth === null || growth < options.growthAtLeast) continue;
    const started = performance.now();
    log.info(
      { index: before.name, table: table.name, growth, bytes: grown },
      `rebuilding index ${before.name} (${growth}× its size before the backfill) with REINDEX INDEX CONCURRENTLY`,
    );
    try {
      await reindexConcurrently(indexOptions, { schema: table.schema, name: before.name, table: table.name });
    } catch (error) {
      if (!(error instanceof LockTimeoutError)) throw error;
      entry.action = 'skipped';
      entry.reason = error.message;
      log.warn({ index: before.name, err: error }, `index ${before.name} not rebuilt: ${error.message}`);
      continue;
    }
    entry.action = 'reindexed';
    entry.ms = Math.round(performance.now() - started);
    entry.bytesAfter = (await indexSizes(pool, table)).find((i) => i.name === before.name)?.bytes ?? null;
  }
  return { growthAtLeast: options.growthAtLeast, indexes, droppedLeftovers, ms: Math.round(performance.now() - t0) };
}
