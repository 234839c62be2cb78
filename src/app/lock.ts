import { acquireOrchestratorLock, type HeldLock } from '../db/advisory-lock.js';
import { InterruptedError, OrchestratorBusyError, WaitTimeoutError } from '../errors.js';
import { ensureLedger, ledgerVersion, markInterruptedRuns } from '../ledger/ledger.js';
import { pollPause, type WaitOptions } from '../wait.js';
import type { Session } from './session.js';

/** Wait for a busy orchestrator lock (`advance --wait`): true, or the timeout, poll and events. */
export type LockWait = boolean | Pick<WaitOptions, 'timeoutSeconds' | 'pollMs' | 'onEvent'>;

/** What a body run under the lock gets. */
export interface Held {
  /** Creates the ledger when it is missing: called once the input has passed validation (invalid input changes nothing). */
  createLedger: () => Promise<void>;
  /** Stops long phases between batches when the caller aborts or the lock connection is lost. */
  signal: AbortSignal;
}

/** The orchestrator lock; with `wait`, retried while another orchestrator holds it. */
async function acquire(session: Session, wait: LockWait | undefined): Promise<HeldLock> {
  if (!wait) return acquireOrchestratorLock(session.config);
  const options = wait === true ? {} : wait;
  const started = performance.now();
  for (;;) {
    try {
      return await acquireOrchestratorLock(session.config);
    } catch (error) {
      if (!(error instanceof OrchestratorBusyError)) throw error;
      const seconds = Math.round((performance.now() - started) / 100) / 10;
      if (options.timeoutSeconds !== undefined && seconds >= options.timeoutSeconds)
        throw new WaitTimeoutError(null, 'the orchestrator lock', null, seconds);
      if (session.signal?.aborted) throw new InterruptedError('(all)', 'wait', null);
      options.onEvent?.({ kind: 'busy', holderPid: error.holderPid, holderApplication: error.holderApplication, elapsedSeconds: seconds });
      await pollPause(options.pollMs ?? 500, session.signal);
    }
  }
}

/**
 * Runs `body` holding the orchestrator lock. An existing ledger is upgraded and runs left by a
 * dead orchestrator are marked interrupted; a missing ledger is created only by `createLedger`.
 */
export async function withOrchestratorLock<T>(session: Session, body: (held: Held) => Promise<T>, wait?: LockWait): Promise<T> {
  const { log } = session;
  const lock = await acquire(session, wait);
  if (lock.shortOfProbes)
    log.warn({ reason: lock.shortOfProbes }, 'the check for a pooled connection ran with fewer probes than it wanted');
  const onLost = () => log.error({ err: lock.lost.reason }, 'lost the orchestrator lock connection; stopping after the current batch');
  lock.lost.addEventListener('abort', onLost);
  const signal = session.signal ? AbortSignal.any([session.signal, lock.lost]) : lock.lost;
  let failed = false;
  try {
    if ((await ledgerVersion(lock.client)) !== null) {
      await ensureLedger(lock.client);
      const stale = await markInterruptedRuns(lock.client);
      if (stale) log.warn({ runs: stale }, 'found runs left by an orchestrator that stopped; marked interrupted');
    }
    return await body({ createLedger: () => ensureLedger(lock.client), signal });
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    lock.lost.removeEventListener('abort', onLost);
    // An unlock that released nothing fails the run (LockNotReleasedError); after a failed run it is logged beside that failure.
    await lock.release().catch((error: unknown) => {
      if (!failed) throw error;
      log.error({ err: error }, 'the orchestrator lock was not released');
    });
  }
}
