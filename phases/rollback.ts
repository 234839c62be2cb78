import { runSteps } from '../src/db/run-steps.js';
import { finishRun, forgetMigration, startRun } from '../src/ledger/ledger.js';
import type { Phase } from '../src/plan/model.js';
import type { PhaseContext } from './context.js';
import { overridesOf } from './ddl-phase.js';

/**
 * Undoes every phase run so far (`from` is the last one): the rollback steps of the operations in
 * reverse order, and the migration's ledger rows deleted, in one transaction, with its own
 * `phase_runs` row. Returns how many statements ran.
 */
export async function runRollback(ctx: PhaseContext, from: Phase): Promise<number> {
  const id = ctx.migration.id;
  const runId = await startRun(ctx.pool, ctx.identity, { migrationId: id, phase: from, action: 'rollback' });
  try {
    const undo = [...ctx.steps].reverse().flatMap((s) => s.rollback);
    const result = await runSteps(ctx, undo, (c) => forgetMigration(c, id));
    await finishRun(ctx.pool, runId, 'succeeded', { statements: result.ran.length, ...overridesOf(undo) });
    ctx.log.info({ from }, 'rolled back; the migration is pending again');
    return result.ran.length;
  } catch (error) {
    await finishRun(ctx.pool, runId, 'failed', {}, (error as Error).message).catch(() => undefined);
    throw error;
  }
}
