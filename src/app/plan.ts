import type { OperationSteps } from '../plan/steps.js';
import type { MigrationState, Phase } from '../plan/model.js';
import { renderPlan, type RenderedPhase } from '../render-plan.js';
import type { Session } from './session.js';
import { factsOf, loadTarget, stateOf, stepsOf } from './targets.js';

/** One phase, or verify or rollback. */
export type PlanPhase = Phase | 'rollback' | 'verify';

export interface PlanResult {
  id: string;
  state: MigrationState;
  phases: RenderedPhase[];
}

/** The rendered statements of a migration's steps, of every phase or only `phase`. Pure: no database. */
export function renderedPlan(id: string, state: MigrationState, steps: OperationSteps[], phase?: PlanPhase): PlanResult {
  return { id, state, phases: renderPlan(steps).filter((p) => !phase || p.phase === phase) };
}

/** The exact SQL of each phase (and of rollback), with lock levels. Reads the catalog; writes nothing. */
export async function plan(session: Session, migration: string, phase?: PlanPhase): Promise<PlanResult> {
  const t = await loadTarget(session, migration);
  const facts = await factsOf(session, t);
  return renderedPlan(t.migration.id, stateOf(t), stepsOf(t, facts), phase);
}
