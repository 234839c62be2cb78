import { recordPhaseDone } from '../src/ledger/ledger.js';
import { runSteps } from '../src/db/run-steps.js';
import type { DdlStep, StepOverride } from '../src/plan/steps.js';
import type { Phase } from '../src/plan/model.js';
import type { PhaseContext, PhaseDetails } from './context.js';

/** The lint overrides of the steps a run runs, for its details in the ledger (`overrides`, only when there are some). */
export function overridesOf(steps: readonly DdlStep[]): { overrides?: StepOverride[] } {
  const overrides = steps.flatMap((s) => s.overrides ?? []);
  return overrides.length ? { overrides } : {};
}

/** Runs the DDL of a phase and records it done in the same transaction. */
export async function runDdlPhase(ctx: PhaseContext, phase: Phase, steps: DdlStep[]): Promise<PhaseDetails> {
  const result = await runSteps(ctx, steps, (client) => recordPhaseDone(client, ctx.migration, ctx.checksum, ctx.facts, phase));
  return { statements: result.ran.length, skipped: result.skipped, steps: result.steps, ...overridesOf(steps) };
}
