import type { PhaseContext, PhaseDetails } from './context.js';
import { runDdlPhase } from './ddl-phase.js';

/** Adds the new shape beside the old one. The plan was checked against the catalog just before. */
export function expand(ctx: PhaseContext): Promise<PhaseDetails> {
  return runDdlPhase(
    ctx,
    'expand',
    ctx.steps.flatMap((s) => s.expand),
  );
}
