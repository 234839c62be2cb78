import { InvalidArgumentError } from '../errors.js';
import type { MigrationState } from '../plan/model.js';
import { isWaitTarget, WAIT_TARGETS, waitForState, type WaitOptions, type WaitTarget } from '../wait.js';
import type { Session } from './session.js';
import { loadTarget } from './targets.js';

export interface WaitResult {
  migration: string;
  target: WaitTarget;
  state: MigrationState;
  seconds: number;
}

/**
 * Waits until `migration` reaches `target` (a phase, or `verified`), polling the ledger without
 * the lock. Throws WaitRunFailedError or WaitTimeoutError (exit 1), WaitUnreachableError (exit 3).
 */
export async function waitFor(session: Session, migration: string, target: WaitTarget, options: WaitOptions = {}): Promise<WaitResult> {
  if (!isWaitTarget(target)) throw new InvalidArgumentError(`cannot wait for ${JSON.stringify(target)}: use ${WAIT_TARGETS.join(', ')}`);
  if (options.timeoutSeconds !== undefined && !(options.timeoutSeconds >= 0))
    throw new InvalidArgumentError('the timeout must be a number of seconds, 0 or more');
  await loadTarget(session, migration);
  const reached = await waitForState(session.db(), migration, target, { signal: session.signal, ...options });
  return { migration, target, ...reached };
}
