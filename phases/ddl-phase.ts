import { recordPhaseDone } from '../src/ledger/ledger.js';
import { runSteps } from '../src/db/run-steps.js';
import type { DdlStep } from '../src/operations/types.js';
import type { Phase } from '../src/plan/model.js';
import type { PhaseContext, PhaseDetails } from './context.js';

/** Runs the DDL of a phase and records it done in the same transaction. */
export async function runDdlPhase(ctx: PhaseContext, phase: Phase, steps: DdlStep[]): Promise<PhaseDetails> {
  const result = await runSteps(ctx, steps, (client) =>
    recordPhaseDone(client, ctx.migration, ctx.checksum, ctx.facts, phase),
  );
  return { statements: result.ran.length, skipped: result.skipped };
}
