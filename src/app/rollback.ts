import { runRollback } from '../../phases/rollback.js';
import { RollbackRefusedError } from '../errors.js';
import type { MigrationState } from '../plan/model.js';
import { withOrchestratorLock } from './lock.js';
import type { Session } from './session.js';
import { loadTarget, phaseContext, stateOf, stepsOf } from './targets.js';

export interface RollbackResult {
  id: string;
  from: MigrationState;
  state: 'pending';
  statements: number;
}

/** Undoes every phase of a migration that has not contracted; the table is as before expand. */
export async function rollback(session: Session, migration: string): Promise<RollbackResult> {
  return withOrchestratorLock(session, async ({ signal }) => {
    const t = await loadTarget(session, migration);
    const from = stateOf(t);
    if (!t.record || from === 'pending') return { id: migration, from, state: 'pending', statements: 0 };
    if (from === 'contract')
      throw new RollbackRefusedError(
        migration,
        'contract has run, and what it dropped or replaced (an old column, a constraint, an index) cannot be restored from the ledger. Write a new migration to change it back.',
      );
    const facts = t.record.facts;
    const statements = await runRollback(phaseContext(session, t, facts, stepsOf(t, facts), signal), from);
    return { id: migration, from, state: 'pending', statements };
  });
}
