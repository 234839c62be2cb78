import { MigrationNotFoundError } from '../errors.js';
import { factsForStamp, phasesToStamp, stampPhases, type StampOptions, type StampResult } from '../stamp.js';
import { checkDrift } from './drift.js';
import { withOrchestratorLock } from './lock.js';
import { waitRefusal, waitsOf } from './order.js';
import type { Session } from './session.js';
import { checkUnchanged, loadTargets, phaseContext, stateOf, stepsOf } from './targets.js';

/**
 * Records phases done outside pgshift (adopting a database changed by hand) as done without
 * running them, in order, after checking the database shows what they leave (src/stamp.ts).
 */
export async function stamp(session: Session, migration: string, options: StampOptions): Promise<StampResult> {
  return withOrchestratorLock(session, async ({ createLedger, signal }) => {
    const all = await loadTargets(session);
    const t = all.find((x) => x.migration.id === migration);
    if (!t)
      throw new MigrationNotFoundError(
        migration,
        all.map((x) => x.migration.id),
      );
    checkUnchanged(t);
    const from = stateOf(t);
    const phases = phasesToStamp(migration, from, options);
    const wait = waitsOf(all).get(migration);
    if (wait) throw waitRefusal(migration, wait);
    const { facts, notes } = t.record ? { facts: t.record.facts, notes: [] } : await factsForStamp(session.db(), t.migration);
    await checkDrift(session.db(), t);
    await createLedger();
    return stampPhases(phaseContext(session, t, facts, stepsOf(t, facts), signal), from, phases, notes);
  });
}
