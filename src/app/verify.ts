import { PhaseOrderError } from '../errors.js';
import type { Verification } from '../ledger/ledger.js';
import { runVerification } from '../verify.js';
import { withOrchestratorLock } from './lock.js';
import type { Session } from './session.js';
import { checkUnchanged, factsOf, loadTargets, phaseContext, stateOf, stepsOf } from './targets.js';

/** Verifies migrations whose backfill has finished (or the one named) and records the evidence. */
export async function verify(session: Session, migration?: string): Promise<Verification[]> {
  return withOrchestratorLock(session, async ({ signal }) => {
    const all = await loadTargets(session, migration);
    const targets = all.filter((t) => t.record?.state === 'backfill');
    if (migration && !targets.length) {
      const state = all[0] ? stateOf(all[0]) : 'pending';
      throw new PhaseOrderError(
        migration,
        state === 'contract'
          ? 'already contracted; the old shape is gone, nothing to verify'
          : `nothing to verify before the backfill has finished (state: ${state})`,
      );
    }
    const results: Verification[] = [];
    for (const t of targets) {
      checkUnchanged(t);
      const facts = await factsOf(session, t);
      results.push(await runVerification(phaseContext(session, t, facts, stepsOf(t, facts), signal)));
    }
    return results;
  });
}
