import { ContractRefusedError, InterruptedError, PgshiftError, PhaseFailedError } from '../src/errors.js';
import { finishRun, startRun } from '../src/ledger/ledger.js';
import type { Phase } from '../src/plan/model.js';
import type { PhaseContext, PhaseDetails } from './context.js';
import type { ContractOptions } from './contract.js';
import { PHASE_EXECUTORS } from './index.js';

export interface PhaseOutcome {
  phase: Phase;
  seconds: number;
  details: PhaseDetails;
}

/**
 * Runs one phase's executor with its `phase_runs` row: `running` before, then `succeeded`,
 * `refused` (contract gate), `interrupted` (signal) or `failed`, with details or the error.
 */
export async function runPhase(ctx: PhaseContext, phase: Phase, options: ContractOptions): Promise<PhaseOutcome> {
  const id = ctx.migration.id;
  // Stopped (signal, or the lock connection lost): start no further phase.
  if (ctx.signal?.aborted) throw new InterruptedError(id, phase, null);
  const runId = await startRun(ctx.pool, ctx.identity, { migrationId: id, phase, action: 'apply' });
  ctx.log.info({ phase }, `${phase}: starting`);
  const t0 = performance.now();
  try {
    const details = await PHASE_EXECUTORS[phase](ctx, options);
    const seconds = Number(((performance.now() - t0) / 1000).toFixed(3));
    await finishRun(ctx.pool, runId, 'succeeded', { ...details, seconds });
    ctx.log.info({ phase, seconds }, `${phase}: done`);
    return { phase, seconds, details };
  } catch (error) {
    const status = error instanceof ContractRefusedError ? 'refused' : error instanceof InterruptedError ? 'interrupted' : 'failed';
    await finishRun(ctx.pool, runId, status, {}, (error as Error).message).catch((e: unknown) =>
      ctx.log.error({ err: e }, 'could not record the failed run in the ledger'),
    );
    throw error instanceof PgshiftError ? error : new PhaseFailedError(id, phase, error);
  }
}
