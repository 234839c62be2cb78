import { setTimeout as sleep } from 'node:timers/promises';
import type { Queryable } from './db/queryable.js';
import { InterruptedError, WaitRunFailedError, WaitTimeoutError, WaitUnreachableError } from './errors.js';
import { latestVerification, ledgerVersion, readMigration, readProgress, readRuns, type PhaseRun } from './ledger/ledger.js';
import { PHASES, type Phase } from './plan/model.js';

/** What `wait` can wait for: a phase recorded done, or a passing verification (or contract, which needs one). */
export const WAIT_TARGETS = [...PHASES, 'verified'] as const;
export type WaitTarget = (typeof WAIT_TARGETS)[number];

export function isWaitTarget(value: string): value is WaitTarget {
  return (WAIT_TARGETS as readonly string[]).includes(value);
}

/** Progress of a wait, for a CLI line or an app's log. */
export type WaitEvent =
  | {
      kind: 'waiting';
      migration: string;
      target: WaitTarget;
      state: Phase | 'pending';
      /** A run of the migration under way now, if any. */
      running: { action: string; phase: string } | null;
      backfill: { rowsDone: number; rowEstimate: number | null } | null;
      elapsedSeconds: number;
    }
  | { kind: 'reached'; migration: string; target: WaitTarget; state: Phase | 'pending'; elapsedSeconds: number }
  /** `advance({ wait })`: another orchestrator holds the lock. */
  | { kind: 'busy'; holderPid: number | null; holderApplication: string | null; elapsedSeconds: number };

export interface WaitOptions {
  /** Give up after this many seconds (WaitTimeoutError, exit 1). Default: no limit. */
  timeoutSeconds?: number;
  /** Poll interval (default 500 ms). */
  pollMs?: number;
  onEvent?: (event: WaitEvent) => void;
  signal?: AbortSignal;
}

const ORDER: readonly string[] = ['pending', ...PHASES];

/** Sleeps one poll interval, with jitter so that waiting replicas do not poll in step. */
export async function pollPause(pollMs: number, signal: AbortSignal | undefined): Promise<void> {
  await sleep(pollMs * (0.75 + Math.random() * 0.5), undefined, { signal }).catch(() => undefined);
}

interface Snapshot {
  state: Phase | 'pending';
  runs: PhaseRun[];
  verified: boolean;
  backfill: { rowsDone: number; rowEstimate: number | null } | null;
}

async function snapshot(db: Queryable, migration: string): Promise<Snapshot> {
  if ((await ledgerVersion(db)) === null) return { state: 'pending', runs: [], verified: false, backfill: null };
  const [record, runs, verification, progress] = await Promise.all([
    readMigration(db, migration),
    readRuns(db, migration),
    latestVerification(db, migration),
    readProgress(db, migration),
  ]);
  const state = record?.state ?? 'pending';
  return {
    state,
    runs,
    verified: state === 'contract' || (state === 'backfill' && verification?.passed === true),
    backfill: progress.length ? { rowsDone: progress.reduce((n, p) => n + p.rowsDone, 0), rowEstimate: progress[0]!.rowEstimate } : null,
  };
}

/**
 * Polls the ledger (read only, no lock) until `migration` reaches `target`. Fails when a run
 * under way or started meanwhile fails (exit 1) or is refused or rolled back, so that the target
 * can no longer be reached by it (exit 3); gives up at the timeout (exit 1).
 */
export async function waitForState(
  db: Queryable,
  migration: string,
  target: WaitTarget,
  options: WaitOptions = {},
): Promise<{ state: Phase | 'pending'; seconds: number }> {
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) / 100) / 10;
  const first = await snapshot(db, migration);
  // Runs that ended before the wait began are history; runs under way then, or started since, count.
  const before = new Set(first.runs.filter((r) => r.status !== 'running').map((r) => r.id));
  let highest = ORDER.indexOf(first.state);
  for (let s = first; ; s = await snapshot(db, migration)) {
    const reached = target === 'verified' ? s.verified : ORDER.indexOf(s.state) >= ORDER.indexOf(target);
    if (reached) {
      options.onEvent?.({ kind: 'reached', migration, target, state: s.state, elapsedSeconds: elapsed() });
      return { state: s.state, seconds: elapsed() };
    }
    for (const r of s.runs) {
      if (before.has(r.id) || r.status === 'running' || r.status === 'succeeded') {
        if (!before.has(r.id) && r.action === 'rollback' && r.status === 'succeeded')
          throw new WaitUnreachableError(migration, target, s.state, `rolled back (run ${r.id})`);
        continue;
      }
      before.add(r.id);
      if (r.status === 'refused')
        throw new WaitUnreachableError(
          migration,
          target,
          s.state,
          `the ${r.action} run of ${r.phase} was refused${r.error ? `: ${r.error}` : ''}`,
        );
      throw new WaitRunFailedError(migration, target, { id: r.id, action: r.action, phase: r.phase, status: r.status, error: r.error });
    }
    const at = ORDER.indexOf(s.state);
    if (at < highest) throw new WaitUnreachableError(migration, target, s.state, `went back from ${ORDER[highest]} (rolled back)`);
    highest = Math.max(highest, at);
    const running = s.runs.find((r) => r.status === 'running');
    options.onEvent?.({
      kind: 'waiting',
      migration,
      target,
      state: s.state,
      running: running ? { action: running.action, phase: running.phase } : null,
      backfill: s.backfill,
      elapsedSeconds: elapsed(),
    });
    if (options.signal?.aborted) throw new InterruptedError(migration, 'wait', null);
    if (options.timeoutSeconds !== undefined && elapsed() >= options.timeoutSeconds)
      throw new WaitTimeoutError(migration, target, s.state, elapsed());
    await pollPause(options.pollMs ?? 500, options.signal);
  }
}
