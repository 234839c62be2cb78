import type pg from 'pg';
import type { TableRef } from '../catalog/introspect.js';
import { LockTimeoutError, SqlState, sqlStateOf, type LockHolder } from '../errors.js';
import type { Logger } from '../logger.js';
import { literal, qualified } from '../sql/ident.js';
import { queryRows, type Queryable } from './queryable.js';

/** How long a strong-lock statement may wait, and how often it is tried. */
export interface LockPolicy {
  /** lock_timeout of each attempt. */
  lockTimeoutMs: number;
  /** Total attempts, first one included. */
  attempts: number;
  /** Backoff before retry n is a random time in [0, min(maxDelayMs, baseDelayMs * 2^n)] ("full jitter"). */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_LOCK_POLICY: LockPolicy = {
  lockTimeoutMs: 1000,
  attempts: 8,
  baseDelayMs: 200,
  maxDelayMs: 5000,
};

export function backoffMs(policy: LockPolicy, retry: number, random: () => number = Math.random): number {
  return Math.round(random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function isLockWait(error: unknown): boolean {
  const state = sqlStateOf(error);
  return state === SqlState.lockNotAvailable || state === SqlState.deadlockDetected;
}

/** Sessions holding locks on a table, to name who blocked us. */
export async function lockHolders(db: Queryable, table: TableRef): Promise<LockHolder[]> {
  const rows = await queryRows<{
    pid: number;
    mode: string;
    application: string | null;
    state: string | null;
    query: string | null;
    xact_start: Date | null;
  }>(
    db,
    `SELECT l.pid, string_agg(DISTINCT l.mode, ',') AS mode, a.application_name AS application, a.state,
            left(a.query, 200) AS query, a.xact_start
       FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_catalog.pg_backend_pid()
        AND l.relation = to_regclass(${literal(qualified(table.schema, table.name))})
      GROUP BY l.pid, a.application_name, a.state, a.query, a.xact_start
      ORDER BY a.xact_start NULLS LAST`,
  );
  return rows.map((r) => ({
    pid: r.pid,
    mode: r.mode,
    application: r.application,
    state: r.state,
    query: r.query,
    xactStart: r.xact_start ? r.xact_start.toISOString() : null,
  }));
}

export interface LockRetryOptions {
  policy: LockPolicy;
  log: Logger;
  /** What is being attempted, for logs and the final error. */
  what: string;
  /** Tables whose lock holders are named when a wait times out. */
  tables: readonly TableRef[];
  /** A connection other than the one attempting, to look up blockers. */
  observer: Queryable;
}

/**
 * Runs `attempt` (which must set lock_timeout itself, usually via `transaction`) until it stops
 * failing on lock waits, with full-jitter exponential backoff, at most `policy.attempts` times.
 */
export async function withLockRetry<T>(options: LockRetryOptions, attempt: () => Promise<T>): Promise<T> {
  const { policy, log } = options;
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isLockWait(error)) throw error;
      const blockers = (
        await Promise.all(options.tables.map((t) => lockHolders(options.observer, t).catch(() => [])))
      ).flat();
      if (n >= policy.attempts) {
        throw new LockTimeoutError(options.what, n, policy.lockTimeoutMs, blockers, { cause: error });
      }
      const delay = backoffMs(policy, n - 1);
      log.warn(
        { attempt: n, of: policy.attempts, retryInMs: delay, sqlstate: sqlStateOf(error), blockers },
        `lock wait timed out: ${options.what}; retrying`,
      );
      await sleep(delay);
    }
  }
}

/**
 * BEGIN; SET LOCAL lock_timeout; body; COMMIT — rolled back on any error. lock_timeout is local
 * to the transaction so a pooled connection never leaks it.
 */
export async function transaction<T>(
  client: pg.ClientBase,
  settings: { lockTimeoutMs: number; statementTimeoutMs?: number },
  body: (client: pg.ClientBase) => Promise<T>,
): Promise<T> {
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(settings.lockTimeoutMs))}`);
    if (settings.statementTimeoutMs !== undefined)
      await client.query(`SET LOCAL statement_timeout = ${Math.max(0, Math.round(settings.statementTimeoutMs))}`);
    const result = await body(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
