import { readRuns, type PhaseRun } from '../ledger/ledger.js';
import type { Session } from './session.js';

/** Every run recorded in the ledger (apply, rollback, verify, stamp, tune…), of one migration or all. */
export async function history(session: Session, migration?: string): Promise<PhaseRun[]> {
  return readRuns(session.db(), migration);
}
