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

/**
 * Who blocks a waiting backend right now: pg_blocking_pids() with what each blocker runs and the
 * lock modes it holds that conflict (none listed: it is ahead of us in the lock queue).
 */
export async function blockersOf(db: Queryable, waitingPid: number): Promise<LockHolder[]> {
  const rows = await queryRows<{
    pid: number;
    mode: string | null;
    application: string | null;
    state: string | null;
    query: string | null;
    xact_start: Date | null;
  }>(
    db,
    `SELECT a.pid, a.application_name AS application, a.state, left(a.query, 200) AS query, a.xact_start,
            (SELECT string_agg(DISTINCT h.mode, ',')
               FROM pg_catalog.pg_locks w JOIN pg_catalog.pg_locks h
                 ON h.pid = a.pid AND h.granted AND h.locktype = w.locktype
                AND h.database IS NOT DISTINCT FROM w.database AND h.relation IS NOT DISTINCT FROM w.relation
                AND h.transactionid IS NOT DISTINCT FROM w.transactionid AND h.virtualxid IS NOT DISTINCT FROM w.virtualxid
              WHERE w.pid = $1 AND NOT w.granted) AS mode
       FROM unnest(pg_catalog.pg_blocking_pids($1)) AS b(pid) JOIN pg_catalog.pg_stat_activity a ON a.pid = b.pid
      ORDER BY a.xact_start NULLS LAST`,
    [waitingPid],
  );
  return rows.map((r) => ({
    pid: r.pid,
    mode: r.mode ?? 'queued ahead',
    application: r.application,
    state: r.state,
    query: r.query,
    xactStart: r.xact_start ? r.xact_start.toISOString() : null,
  }));
}

const backendPids = new WeakMap<object, number>();

/** The backend pid of a client, asked once. */
export async function backendPid(client: Queryable): Promise<number> {
  const known = backendPids.get(client);
  if (known !== undefined) return known;
  const [row] = await queryRows<{ pid: number }>(client, 'SELECT pg_backend_pid() AS pid');
  backendPids.set(client, row!.pid);
  return row!.pid;
}

/**
 * While `work` runs on the backend `pid`, polls who blocks it and logs every change, so each
 * wait is logged with the blocking pids and their queries. Returns the last blockers seen.
 */
export async function watchingBlockers<T>(
  options: { observer: Queryable; pid: number | null; log: Logger; what: string; everyMs: number },
  work: () => Promise<T>,
): Promise<{ ok: true; result: T; blockers: LockHolder[] } | { ok: false; error: unknown; blockers: LockHolder[] }> {
  let last: LockHolder[] = [];
  let lastKey = '';
  let polling = false;
  const pid = options.pid;
  const timer =
    pid === null
      ? null
      : setInterval(() => {
          if (polling) return;
          polling = true;
          blockersOf(options.observer, pid)
            .then((blockers) => {
              const key = blockers.map((b) => `${b.pid}:${b.mode}`).join(',');
              if (blockers.length) last = blockers;
              if (key && key !== lastKey)
                options.log.warn(
                  { waitingPid: pid, blockers },
                  `waiting for a lock: ${options.what}; blocked by pid ${blockers.map((b) => b.pid).join(', ')}`,
                );
              lastKey = key;
            })
            .catch(() => undefined)
            .finally(() => (polling = false));
        }, options.everyMs);
  try {
    const result = await work();
    return { ok: true, result, blockers: last };
  } catch (error) {
    return { ok: false, error, blockers: last };
  } finally {
    if (timer) clearInterval(timer);
  }
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
  /** The attempting connection: while it waits, its blockers are polled and logged. */
  waiter?: Queryable;
}

/**
 * Runs `attempt` (which must set lock_timeout itself, usually via `transaction`) until it stops
 * failing on lock waits, with full-jitter exponential backoff, at most `policy.attempts` times.
 */
export async function withLockRetry<T>(options: LockRetryOptions, attempt: () => Promise<T>): Promise<T> {
  const { policy, log } = options;
  const pid = options.waiter ? await backendPid(options.waiter) : null;
  for (let n = 1; ; n++) {
    const outcome = await watchingBlockers(
      { observer: options.observer, pid, log, what: options.what, everyMs: Math.max(50, Math.min(250, policy.lockTimeoutMs / 2)) },
      attempt,
    );
    if (outcome.ok) return outcome.result;
    const error = outcome.error;
    if (!isLockWait(error)) throw error;
    // Who blocked us, as seen while we waited; else whoever holds locks on the tables now.
    const blockers = outcome.blockers.length
      ? outcome.blockers
      : (await Promise.all(options.tables.map((t) => lockHolders(options.observer, t).catch(() => [])))).flat();
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

/**
 * BEGIN; SET LOCAL lock_timeout; body; COMMIT — rolled back on any error. lock_timeout is local
 * to the transaction so a pooled connection never leaks it. `local` adds more transaction-local
 * settings (set_config(name, value, true)). BEGIN and the settings go in one round trip. With
 * `bodyCommits`, the body's last statement ends in COMMIT itself (saving a round trip) and no
 * COMMIT is sent after it.
 */
export async function transaction<T>(
  client: pg.ClientBase,
  settings: { lockTimeoutMs: number; statementTimeoutMs?: number; local?: Readonly<Record<string, string>>; bodyCommits?: boolean },
  body: (client: pg.ClientBase) => Promise<T>,
): Promise<T> {
  const statements = ['BEGIN', `SET LOCAL lock_timeout = ${Math.max(1, Math.round(settings.lockTimeoutMs))}`];
  if (settings.statementTimeoutMs !== undefined)
    statements.push(`SET LOCAL statement_timeout = ${Math.max(0, Math.round(settings.statementTimeoutMs))}`);
  const local = Object.entries(settings.local ?? {});
  if (local.length)
    statements.push(`SELECT ${local.map(([k, v]) => `pg_catalog.set_config(${literal(k)}, ${literal(v)}, true)`).join(', ')}`);
  try {
    await client.query(statements.join('; '));
    const result = await body(client);
    if (!settings.bodyCommits) await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
