import type { Logger, WaitEvent } from '../index.js';

/** Logs a wait's progress: at once when something changes, else every 10 s. */
export function waitLogger(log: Logger | null): (e: WaitEvent) => void {
  let last = '';
  let at = 0;
  return (e) => {
    if (!log || e.kind === 'reached') return;
    const key = e.kind === 'busy' ? `busy ${e.holderPid}` : `${e.state} ${e.running?.action} ${e.running?.phase}`;
    if (key === last && performance.now() - at < 10_000) return;
    last = key;
    at = performance.now();
    if (e.kind === 'busy')
      log.info(
        { holderPid: e.holderPid, holderApplication: e.holderApplication, waited: e.elapsedSeconds },
        'another orchestrator holds the lock; waiting',
      );
    else
      log.info(
        { migration: e.migration, state: e.state, running: e.running, backfill: e.backfill, waited: e.elapsedSeconds },
        `waiting for ${e.target}: now ${e.state}${e.running ? `, ${e.running.action} of ${e.running.phase} running` : ''}`,
      );
  };
}
