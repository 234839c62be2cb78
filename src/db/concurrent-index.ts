import type pg from 'pg';
import { indexState } from '../catalog/indexes.js';
import { describeRef, type TableRef } from '../catalog/introspect.js';
import { InvalidIndexLeftError, SqlState, sqlStateOf, UniqueIndexDuplicatesError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { DdlStep, IndexStep } from '../plan/steps.js';
import { ident, qualified } from '../sql/ident.js';
import { transaction, withLockRetry, type LockPolicy } from './lock-retry.js';
import { queryRows, singleStatement, type Queryable } from './queryable.js';

export interface ConcurrentIndexOptions {
  pool: pg.Pool;
  log: Logger;
  lockPolicy: LockPolicy;
  /** How often pg_stat_progress_create_index is read while an index builds (default 1 s). */
  progressEveryMs?: number;
}

/** Progress is logged at info when the phase changes, else at most this often (debug otherwise). */
const PROGRESS_LOG_MS = 5000;
/** The duplicate-key sample after a failed UNIQUE build must not scan for ever. */
const SAMPLE_TIMEOUT_MS = 60_000;
const SAMPLE_KEYS = 5;

export function dropIndexSql(index: Pick<IndexStep, 'schema' | 'name'>): string {
  return `DROP INDEX CONCURRENTLY IF EXISTS ${qualified(index.schema, index.name)}`;
}

function tableOf(index: IndexStep): TableRef {
  return { schema: index.schema, name: index.table };
}

function describeIndex(index: IndexStep): string {
  return `${index.name} on ${describeRef(tableOf(index))}`;
}

/**
 * A connection of its own, outside any transaction, with the policy's lock_timeout (the waits of
 * CREATE/DROP INDEX CONCURRENTLY for older transactions are lock waits) and no statement_timeout
 * (a build may take hours). Both are reset before the connection goes back to the pool; a
 * connection that cannot be reset is destroyed instead.
 */
async function onSession<T>(options: ConcurrentIndexOptions, body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await options.pool.connect();
  let broken: Error | undefined;
  try {
    await client.query(`SET lock_timeout = ${Math.max(1, Math.round(options.lockPolicy.lockTimeoutMs))}`);
    await client.query('SET statement_timeout = 0');
    return await body(client);
  } finally {
    try {
      await client.query('RESET lock_timeout');
      await client.query('RESET statement_timeout');
    } catch (error) {
      broken = error as Error;
    }
    client.release(broken);
  }
}

interface ProgressRow {
  phase: string;
  blocks_total: string;
  blocks_done: string;
  tuples_total: string;
  tuples_done: string;
  lockers_total: string;
  lockers_done: string;
  current_locker_pid: string;
}

/** Polls pg_stat_progress_create_index for backend `pid` from another connection while `work` runs. */
async function withProgress<T>(options: ConcurrentIndexOptions, index: IndexStep, pid: number, work: () => Promise<T>): Promise<T> {
  const { log, pool } = options;
  let phase = '';
  let loggedAt = 0;
  let polling = false;
  const poll = async () => {
    const [row] = await queryRows<ProgressRow>(
      pool,
      `SELECT phase, blocks_total, blocks_done, tuples_total, tuples_done, lockers_total, lockers_done, current_locker_pid
         FROM pg_catalog.pg_stat_progress_create_index WHERE pid = $1`,
      [pid],
    );
    if (!row) return;
    const n = (v: string) => Number(v);
    const percent = (done: string, total: string) => (n(total) > 0 ? Math.floor((100 * n(done)) / n(total)) : null);
    const facts = {
      index: index.name,
      buildPid: pid,
      phase: row.phase,
      blocks: { done: n(row.blocks_done), total: n(row.blocks_total), percent: percent(row.blocks_done, row.blocks_total) },
      tuples: { done: n(row.tuples_done), total: n(row.tuples_total), percent: percent(row.tuples_done, row.tuples_total) },
      lockers: { done: n(row.lockers_done), total: n(row.lockers_total), current: n(row.current_locker_pid) || null },
    };
    const now = Date.now();
    const changed = row.phase !== phase;
    phase = row.phase;
    const message = `building index ${describeIndex(index)}: ${row.phase}`;
    if (changed || now - loggedAt >= PROGRESS_LOG_MS) {
      loggedAt = now;
      log.info(facts, message);
    } else log.debug(facts, message);
  };
  const timer = setInterval(() => {
    if (polling) return;
    polling = true;
    poll()
      .catch((error: unknown) => log.debug({ err: error }, 'could not read index build progress'))
      .finally(() => (polling = false));
  }, options.progressEveryMs ?? 1000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** Up to 5 key values that occur more than once (NULLs never conflict in a unique index). */
async function duplicateKeys(options: ConcurrentIndexOptions, index: IndexStep): Promise<unknown[]> {
  if (!index.columns.length) return [];
  const cols = index.columns.map(ident);
  const sql =
    `SELECT ${cols.map((c, i) => `${c}::text AS k${i}`).join(', ')} FROM ${qualified(index.schema, index.table)} ` +
    `WHERE ${cols.map((c) => `${c} IS NOT NULL`).join(' AND ')}${index.where !== null ? ` AND (${index.where})` : ''} ` +
    `GROUP BY ${cols.join(', ')} HAVING count(*) > 1 ORDER BY ${cols.join(', ')} LIMIT ${SAMPLE_KEYS}`;
  const client = await options.pool.connect();
  try {
    const rows = await transaction(
      client,
      { lockTimeoutMs: options.lockPolicy.lockTimeoutMs, statementTimeoutMs: SAMPLE_TIMEOUT_MS },
      (c) => queryRows<Record<string, string | null>>(c, sql),
    );
    return rows.map((r) => (cols.length === 1 ? r.k0 : cols.map((_, i) => r[`k${i}`])));
  } finally {
    client.release();
  }
}

function retryOptions(options: ConcurrentIndexOptions, index: IndexStep, what: string, waiter: pg.PoolClient) {
  return { policy: options.lockPolicy, log: options.log, what, tables: [tableOf(index)], observer: options.pool, waiter };
}

/**
 * After a failed build: an index left INVALID is dropped (on a fresh connection, in case the
 * failure was the build's own), so pgshift never leaves one behind. If even that fails, the
 * error says so; the next run finds it and drops it before building again.
 */
async function dropLeftover(options: ConcurrentIndexOptions, index: IndexStep, cause: unknown): Promise<void> {
  const state = await indexState(options.pool, index.schema, index.name).catch((error: unknown) => {
    // The server is out of reach (the likely cause of the failure too): the next run looks again.
    options.log.warn({ err: error, index: index.name }, 'could not check for an INVALID index left by the failed build');
    return null;
  });
  if (state !== 'invalid') return;
  try {
    options.log.warn({ index: index.name }, `the failed build left index ${describeIndex(index)} INVALID; dropping it`);
    await onSession(options, (client) =>
      withLockRetry(retryOptions(options, index, dropIndexSql(index), client), () => client.query(dropIndexSql(index))),
    );
  } catch (error) {
    throw new InvalidIndexLeftError(index.name, describeRef(tableOf(index)), (error as Error).message, { cause });
  }
}

/**
 * CREATE [UNIQUE] INDEX CONCURRENTLY, made safe to retry and to rerun. Before each attempt the
 * index is looked up: valid means an earlier attempt or run built it (nothing to do); INVALID
 * means a build failed or was interrupted, here or in an earlier run, and it is dropped first.
 * Lock waits (the build waits for older transactions) retry with backoff, a bounded number of
 * times. On any failure the INVALID leftover is dropped before the error is thrown.
 */
async function createIndex(options: ConcurrentIndexOptions, step: DdlStep, index: IndexStep): Promise<boolean> {
  const { log } = options;
  let attempts = 0;
  let alreadyBuilt = false;
  try {
    await onSession(options, async (client) => {
      const [{ pid }] = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [{ pid: number }];
      await withLockRetry(retryOptions(options, index, step.sql, client), async () => {
        attempts++;
        const state = await indexState(client, index.schema, index.name);
        if (state === 'valid') {
          alreadyBuilt = attempts === 1;
          return;
        }
        if (state === 'invalid') {
          log.warn(
            { index: index.name, attempt: attempts },
            `found INVALID index ${describeIndex(index)} (left by a failed or interrupted build); dropping it to build it again`,
          );
          await client.query(dropIndexSql(index));
        }
        await withProgress(options, index, pid, () => client.query(singleStatement(step.sql)));
      });
    });
  } catch (error) {
    await dropLeftover(options, index, error);
    if (index.unique && sqlStateOf(error) === SqlState.uniqueViolation) {
      const sampleKeys = await duplicateKeys(options, index).catch((sampleError: unknown) => {
        log.warn({ err: sampleError }, 'could not sample the duplicate keys');
        return [];
      });
      const detail = (error as { detail?: string }).detail ?? null;
      throw new UniqueIndexDuplicatesError(index.name, describeRef(tableOf(index)), index.columns, sampleKeys, detail, { cause: error });
    }
    throw error;
  }
  if (alreadyBuilt) log.info({ index: index.name }, `index ${describeIndex(index)} already exists and is valid`);
  return alreadyBuilt;
}

/** DROP INDEX CONCURRENTLY IF EXISTS with lock retries; a drop that times out half-way is finished by the next attempt. */
async function dropIndex(options: ConcurrentIndexOptions, step: DdlStep, index: IndexStep): Promise<boolean> {
  return onSession(options, async (client) => {
    if ((await indexState(client, index.schema, index.name)) === 'missing') return true;
    try {
      await withLockRetry(retryOptions(options, index, step.sql, client), () => client.query(singleStatement(step.sql)));
    } catch (error) {
      // DROP INDEX CONCURRENTLY first marks the index invalid, then waits: stopped there, queries no longer use it.
      if ((await indexState(options.pool, index.schema, index.name).catch(() => null)) === 'invalid')
        options.log.warn(
          { index: index.name },
          `index ${describeIndex(index)} is left INVALID (half-dropped; queries no longer use it); run again to finish dropping it`,
        );
      throw error;
    }
    return false;
  });
}

/**
 * Runs a step that carries an IndexStep, outside any transaction, on a connection of its own.
 * Returns true when there was nothing to do (already built, already gone).
 */
export async function runIndexStep(options: ConcurrentIndexOptions, step: DdlStep, index: IndexStep): Promise<boolean> {
  if (step.tx !== 'none') throw new Error(`bug: index step ${step.id} must run outside any transaction (tx 'none'), not '${step.tx}'`);
  return index.action === 'create' ? createIndex(options, step, index) : dropIndex(options, step, index);
}

/** An index of a table, as REINDEX and its leftovers see it. */
export interface TableIndex {
  schema: string;
  name: string;
  table: string;
}

/**
 * Invalid indexes REINDEX INDEX CONCURRENTLY left on `table` when it was interrupted or failed:
 * `<index>_ccnew[N]` (the new copy, not yet swapped in) or `<index>_ccold[N]` (the old one, swapped
 * out but not yet dropped), for the indexes named in `of`. Only INVALID ones: a valid index with
 * such a name is someone's own.
 */
export async function reindexLeftovers(db: Queryable, table: TableRef, of: readonly string[]): Promise<TableIndex[]> {
  if (!of.length) return [];
  const rows = await queryRows<{ name: string; base: string }>(
    db,
    `SELECT i.relname AS name, substring(i.relname FROM '^(.*)_cc(?:new|old)[0-9]*$') AS base
       FROM pg_catalog.pg_index x
       JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
       JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = $1 AND t.relname = $2 AND NOT x.indisvalid AND i.relname ~ '_cc(new|old)[0-9]*$'
      ORDER BY i.relname`,
    [table.schema, table.name],
  );
  return rows.filter((r) => r.base !== null && of.includes(r.base)).map((r) => ({ schema: table.schema, name: r.name, table: table.name }));
}

function reindexTarget(index: TableIndex): IndexStep {
  return { action: 'drop', schema: index.schema, name: index.name, table: index.table, unique: false, columns: [], where: null };
}

/** DROP INDEX CONCURRENTLY IF EXISTS of an index REINDEX left INVALID, with the policy's lock retries. */
export async function dropReindexLeftover(options: ConcurrentIndexOptions, leftover: TableIndex): Promise<void> {
  const target = reindexTarget(leftover);
  options.log.warn(
    { index: leftover.name, table: leftover.table },
    `found INVALID index ${leftover.name} left by an interrupted REINDEX CONCURRENTLY; dropping it`,
  );
  await onSession(options, (client) =>
    withLockRetry(retryOptions(options, target, dropIndexSql(target), client), () => client.query(dropIndexSql(target))),
  );
}

export function reindexSql(index: Pick<TableIndex, 'schema' | 'name'>): string {
  return `REINDEX INDEX CONCURRENTLY ${qualified(index.schema, index.name)}`;
}

/**
 * REINDEX INDEX CONCURRENTLY, with the discipline of the index builds above: its own connection
 * outside any transaction, the policy's short lock_timeout (its waits for older transactions and
 * for its SHARE UPDATE EXCLUSIVE lock are lock waits), bounded jittered retries, and on any
 * failure the INVALID `_ccnew`/`_ccold` copy it leaves is dropped before the error is thrown (and
 * if even that fails, the next run finds it with reindexLeftovers() and drops it).
 */
export async function reindexConcurrently(options: ConcurrentIndexOptions, index: TableIndex): Promise<void> {
  const target = reindexTarget(index);
  const table: TableRef = { schema: index.schema, name: index.table };
  try {
    await onSession(options, (client) =>
      withLockRetry(retryOptions(options, target, reindexSql(index), client), async () => {
        for (const leftover of await reindexLeftovers(client, table, [index.name]))
          await client.query(dropIndexSql(reindexTarget(leftover)));
        await client.query(reindexSql(index));
      }),
    );
  } catch (error) {
    const leftovers = await reindexLeftovers(options.pool, table, [index.name]).catch(() => []);
    for (const leftover of leftovers) {
      try {
        await dropReindexLeftover(options, leftover);
      } catch (dropError) {
        throw new InvalidIndexLeftError(leftover.name, describeRef(table), (dropError as Error).message, { cause: error });
      }
    }
    throw error;
  }
}
