import type { PhaseContext, PhaseDetails } from './context.js';
import { runDdlPhase } from './ddl-phase.js';

/**
 * Installs the triggers that keep old and new in sync, in one short transaction: from its commit
 * on, old and new app versions can both write.
 */
export function dualWrite(ctx: PhaseContext): Promise<PhaseDetails> {
  return runDdlPhase(
    ctx,
    'dual-write',
    ctx.steps.flatMap((s) => s.dualWrite),
  );
}
