import { triggerState, describeRef } from '../src/catalog/introspect.js';
import { ContractRefusedError, InterruptedError, sqlStateOf } from '../src/errors.js';
import { CONTRACT_REFUSALS } from '../src/operations/index.js';
import { backfillFinishedAt, backfillPhaseDoneAt, latestVerification } from '../src/ledger/ledger.js';
import { runVerification } from '../src/verify.js';
import type { PhaseContext, PhaseDetails } from './context.js';
import { runDdlPhase } from './ddl-phase.js';

export interface ContractOptions {
  /** Run a fresh verification first (default). Without it, the recorded evidence must pass the gate. */
  verify: boolean;
}

/**
 * The gate: contract destroys the old shape, so it needs proof that the new one holds the same
 * data. That proof is a passing verification recorded after the backfill finished, with the
 * dual-write triggers still in place (so nothing written since can have diverged).
 */
export async function contractGate(ctx: PhaseContext, options: ContractOptions): Promise<PhaseDetails> {
  const id = ctx.migration.id;
  // With backfill tasks, their own checkpoints say when; without (an index, a constraint), the phase run does.
  const hasTasks = ctx.steps.some((s) => s.backfill.length > 0);
  const finished = hasTasks ? await backfillFinishedAt(ctx.pool, id) : await backfillPhaseDoneAt(ctx.pool, id);
  if (!finished) throw new ContractRefusedError(id, 'the backfill has not finished');
  for (const t of ctx.steps.flatMap((s) => s.triggers)) {
    const state = await triggerState(ctx.pool, t.table, t.name);
    if (state !== 'enabled')
      throw new ContractRefusedError(
        id,
        `dual-write trigger ${t.name} on ${describeRef(t.table)} is ${state}; writes since it stopped may be missing from the new column (re-run dual-write after a rollback, or re-enable it and verify again)`,
      );
  }
  if (options.verify) await runVerification(ctx);
  const evidence = await latestVerification(ctx.pool, id);
  if (!evidence || evidence.startedAt < finished)
    throw new ContractRefusedError(
      id,
      'no verification recorded since the backfill finished (run `pgshift verify` or advance without --no-verify)',
    );
  if (!evidence.passed)
    throw new ContractRefusedError(
      id,
      `the latest verification (${evidence.finishedAt.toISOString()}) found ${evidence.mismatches} mismatching row(s); sample keys: ${JSON.stringify(evidence.sampleKeys)}`,
      evidence.mismatches,
      evidence.sampleKeys,
    );
  return { verification: { id: evidence.id, rowsChecked: evidence.rowsChecked, at: evidence.finishedAt.toISOString() } };
}

/** Drops the old shape once the gate passes. Irreversible: rollback refuses after this. */
export async function contract(ctx: PhaseContext, options: ContractOptions): Promise<PhaseDetails> {
  const gate = await contractGate(ctx, options);
  if (ctx.signal?.aborted) throw new InterruptedError(ctx.migration.id, 'contract', null);
  try {
    const ddl = await runDdlPhase(
      ctx,
      'contract',
      ctx.steps.flatMap((s) => s.contract),
    );
    return { ...gate, ...ddl };
  } catch (error) {
    // An operation refused under its lock (dropTable found a dependent): nothing changed, the transaction rolled back.
    const state = sqlStateOf(error);
    if (state !== undefined && state !== null && CONTRACT_REFUSALS.has(state))
      throw new ContractRefusedError(ctx.migration.id, (error as Error).message);
    throw error;
  }
}
