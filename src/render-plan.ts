import { nonTransactionalFirst } from './db/run-steps.js';
import type { DdlStep, LockLevel, OperationSteps, TransactionMode } from './plan/steps.js';
import { renderBatchUpdate, renderBoundary, renderLastKey, renderMismatchKeys, renderVerifyCount } from './sql/keyset.js';
import { DEFAULT_LOOP_SIZES, renderBackfillLoop, renderVerifyLoop, type LoopSizes } from './operations/blocks/loop-template.js';

export interface RenderedStatement {
  id: string;
  description: string;
  sql: string;
  lock: LockLevel;
  transaction: TransactionMode | 'per-batch';
  skipIf?: string;
  /**
   * On a backfill task's batch and a verify task's count: the whole loop as a DO block that runs
   * in psql, the engine's statements with variables for their parameters (src/operations/blocks/loop-template.ts).
   */
  template?: string;
}

export interface RenderedPhase {
  phase: 'expand' | 'dual-write' | 'backfill' | 'verify' | 'contract' | 'rollback';
  statements: RenderedStatement[];
}

/** A phase's DDL in the order it runs: every operation's `own`/`none` steps, then the phase transaction. */
function ddl(steps: DdlStep[]): RenderedStatement[] {
  return nonTransactionalFirst(steps).map((s) => ({
    id: s.id,
    description: s.description,
    sql: s.sql,
    lock: s.lock,
    transaction: s.tx,
    ...(s.skipIf ? { skipIf: s.skipIf } : {}),
  }));
}

/** Every statement of every phase, in order; keyset statements shown with their parameters. */
export function renderPlan(steps: OperationSteps[], sizes: LoopSizes = DEFAULT_LOOP_SIZES): RenderedPhase[] {
  const backfill = steps.flatMap((s) => s.backfill);
  const verify = steps.flatMap((s) => s.verify);
  const checks: RenderedStatement[] = steps.flatMap((s) =>
    s.checks.map((c) => ({
      id: c.id,
      description: `check: ${c.description}`,
      sql: c.sql,
      lock: 'ACCESS SHARE' as const,
      transaction: 'none' as const,
    })),
  );
  return [
    { phase: 'expand', statements: ddl(steps.flatMap((s) => s.expand)) },
    { phase: 'dual-write', statements: ddl(steps.flatMap((s) => s.dualWrite)) },
    {
      phase: 'backfill',
      statements: backfill
        .flatMap((task): RenderedStatement[] => [
          {
            id: `${task.id}.boundary`,
            description:
              'upper key of the next batch: params are the cursor, the worker range end, and batch size - 1 (the first batch has no cursor, the last worker no end)',
            sql: renderBoundary(task, { cursor: true, end: true }),
            lock: 'ACCESS SHARE' as const,
            transaction: 'per-batch' as const,
          },
          {
            id: `${task.id}.last-key`,
            description: 'when fewer than a batch remain: the last key',
            sql: renderLastKey(task, { cursor: true, end: true }),
            lock: 'ACCESS SHARE' as const,
            transaction: 'per-batch' as const,
          },
          {
            id: `${task.id}.batch`,
            description: 'one batch (cursor, upper], then the checkpoint, in one short transaction',
            sql: renderBatchUpdate(task, true),
            lock: 'ROW EXCLUSIVE' as const,
            transaction: 'per-batch' as const,
            template: renderBackfillLoop(task, sizes),
          },
        ])
        .concat(ddl(steps.flatMap((s) => s.afterBackfill))),
    },
    {
      phase: 'verify',
      statements: [
        ...verify.flatMap((task): RenderedStatement[] => [
          {
            id: `${task.id}.boundary`,
            description: 'upper key of the next chunk (cursor, worker range end, chunk size - 1)',
            sql: renderBoundary(task, { cursor: true, end: true }),
            lock: 'ACCESS SHARE' as const,
            transaction: 'per-batch' as const,
          },
          {
            id: `${task.id}.count`,
            description: `count the chunk's rows where not (${task.description})`,
            sql: renderVerifyCount(task, true),
            lock: 'ACCESS SHARE' as const,
            transaction: 'per-batch' as const,
            template: renderVerifyLoop(task, sizes),
          },
          {
            id: `${task.id}.sample`,
            description: 'only for a chunk with mismatches: their first keys, as evidence',
            sql: renderMismatchKeys(task, true),
            lock: 'ACCESS SHARE' as const,
            transaction: 'per-batch' as const,
          },
        ]),
        ...checks,
      ],
    },
    { phase: 'contract', statements: ddl(steps.flatMap((s) => s.contract)) },
    { phase: 'rollback', statements: ddl([...steps].reverse().flatMap((s) => s.rollback)) },
  ];
}
