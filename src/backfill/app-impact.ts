import type { Queryable } from '../db/queryable.js';
import { queryRows } from '../db/queryable.js';

/**
 * What a backfill batch does to the app: the sessions waiting on a lock the batch's backend holds
 * (`pg_blocking_pids`), typically app writes to a row in the batch's range, which wait until the
 * batch commits. Watched from a second connection while the batch runs.
 */
export interface AppImpact {
  /** Distinct sessions seen blocked by the batch. */
  blockedSessions: number;
  /** The longest wait seen, in ms (since the blocked statement started). */
  maxWaitMs: number;
}

const NO_IMPACT: AppImpact = { blockedSessions: 0, maxWaitMs: 0 };

/** One look at the sessions blocked by `pid`: pid and how long their statement has run. */
export async function sessionsBlockedBy(observer: Queryable, pid: number): Promise<{ pid: number; waitMs: number }[]> {
  const rows = await queryRows<{ pid: number; wait_ms: number }>(
    observer,
    `SELECT a.pid, pg_catalog.round(extract(epoch FROM pg_catalog.clock_timestamp() - a.query_start) * 1000)::float8 AS wait_ms
       FROM pg_catalog.pg_stat_activity a
      WHERE a.wait_event_type = 'Lock' AND $1::int = ANY (pg_catalog.pg_blocking_pids(a.pid))`,
    [pid],
  );
  return rows.map((r) => ({ pid: r.pid, waitMs: r.wait_ms }));
}

/**
 * Runs `body` (the batch) while polling every `everyMs` for sessions blocked by `pid`; returns the
 * body's result with the impact seen until it ended. Errors of the watch itself are ignored (it is advisory).
 */
export async function watchingAppImpact<T>(
  o: { observer: Queryable; pid: number; everyMs: number },
  body: () => Promise<T>,
): Promise<{ result: T; impact: AppImpact }> {
  const seen = new Set<number>();
  let maxWaitMs = 0;
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  const poll = () => {
    void sessionsBlockedBy(o.observer, o.pid)
      .then((blocked) => {
        if (done) return;
        for (const b of blocked) {
          seen.add(b.pid);
          maxWaitMs = Math.max(maxWaitMs, b.waitMs);
        }
      })
      .catch(() => undefined)
      .finally(() => {
        if (!done) timer = setTimeout(poll, o.everyMs);
      });
  };
  timer = setTimeout(poll, o.everyMs);
  try {
    const result = await body();
    return { result, impact: seen.size ? { blockedSessions: seen.size, maxWaitMs } : NO_IMPACT };
  } finally {
    // A look still under way is not waited for (the batch's end would wait on it); its answer is dropped.
    done = true;
    clearTimeout(timer);
  }
}

/**
 * How much to scale the next batch so app waits stay within `budgetMs`: a blocked app write waits
 * about as long as the batch holds its row locks, so the batch shrinks by budget ÷ wait (at least
 * by half). 1 = no change.
 */
export function appImpactShrink(impact: AppImpact, budgetMs: number | null): number {
  if (budgetMs === null || impact.blockedSessions === 0 || impact.maxWaitMs <= budgetMs) return 1;
  return Math.min(0.5, budgetMs / impact.maxWaitMs);
}
