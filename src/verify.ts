import pLimit from 'p-limit';
import type { PhaseContext } from '../phases/context.js';
import { splitRanges, type KeyRange } from './backfill/ranges.js';
import { estimateRows } from './catalog/introspect.js';
import { queryRows } from './db/queryable.js';
import { finishRun, recordVerification, serverNow, startRun, type Verification } from './ledger/ledger.js';
import type { VerifyTask } from './plan/steps.js';
import { renderBoundary, renderLastKey, renderMismatchKeys, renderVerifyCount } from './sql/keyset.js';
import { InterruptedError } from './errors.js';

export type VerifyContext = Pick<
  PhaseContext,
  'pool' | 'log' | 'identity' | 'verify' | 'backfill' | 'migration' | 'steps' | 'onProgress' | 'signal'
>;

type KeyRow = Record<string, string>;

function keyValues(row: KeyRow, width: number): string[] {
  return Array.from({ length: width }, (_, i) => row[`k${i}`] as string);
}

interface TaskResult {
  rows: number;
  mismatches: number;
  sampleKeys: unknown[];
  seconds: number;
}

/** Keys as evidence: a single-column key as its value, a composite key as an array. */
function showKey(key: string[]): unknown {
  return key.length === 1 ? key[0] : key;
}

/**
 * Reads every row of the task's table in keyset chunks, split among the workers on disjoint
 * ranges; the comparison and counting happen in the server, so only counts and a few keys
 * travel back.
 */
async function verifyTask(ctx: VerifyContext, task: VerifyTask): Promise<TaskResult> {
  const { pool } = ctx;
  const estimate = await estimateRows(pool, task.table);
  const started = performance.now();
  const ranges = await splitRanges(pool, task, ctx.backfill.workers, estimate);
  const result: TaskResult = { rows: 0, mismatches: 0, sampleKeys: [], seconds: 0 };
  const perRange: { key: string[]; bad: string[][] }[] = [];
  let chunks = 0;
  const report = (finished: boolean) => {
    const elapsed = (performance.now() - started) / 1000;
    ctx.onProgress?.({
      migrationId: ctx.migration.id,
      task: task.id,
      kind: 'verify',
      rowsDone: result.rows,
      rowEstimate: estimate,
      rowsPerSecond: elapsed > 0 ? result.rows / elapsed : 0,
      batches: chunks,
      lastBatchMs: 0,
      batchSize: ctx.verify.chunkSize,
      holdReason: null,
      finished,
    });
  };
  const width = task.key.length;
  // Per chunk: the upper key by an index-only scan, then counts over (cursor, upper] computed in
  // the server; keys are fetched only for a chunk that has mismatches.
  const scan = async (range: KeyRange, index: number) => {
    const bad: string[][] = [];
    let cursor = range.start;
    for (;;) {
      if (ctx.signal?.aborted) throw new InterruptedError(ctx.migration.id, 'verify', cursor);
      const bounds = { cursor: cursor !== null, end: range.end !== null };
      const boundParams = [...(cursor ?? []), ...(range.end ?? [])];
      const [boundary] = await queryRows<KeyRow>(pool, renderBoundary(task, bounds), [...boundParams, ctx.verify.chunkSize - 1]);
      const [last] = boundary ? [boundary] : await queryRows<KeyRow>(pool, renderLastKey(task, bounds), boundParams);
      if (!last) break;
      const upper = keyValues(last, width);
      const chunkParams = [...(cursor ?? []), ...upper];
      const [chunk] = await queryRows<{ rows: number; mismatches: number }>(pool, renderVerifyCount(task, cursor !== null), chunkParams);
      result.rows += chunk?.rows ?? 0;
      result.mismatches += chunk?.mismatches ?? 0;
      if (chunk?.mismatches && bad.length < ctx.verify.sampleSize) {
        const keys = await queryRows<KeyRow>(pool, renderMismatchKeys(task, cursor !== null), [
          ...chunkParams,
          ctx.verify.sampleSize - bad.length,
        ]);
        for (const k of keys) bad.push(keyValues(k, width));
      }
      cursor = upper;
      chunks++;
      report(false);
      if (!boundary) break;
    }
    perRange[index] = { key: range.start ?? [], bad };
  };
  const limit = pLimit(Math.max(1, ranges.length));
  await Promise.all(ranges.map((r, i) => limit(() => scan(r, i))));
  // Sample keys in key order: ranges are ordered, and so are the keys within each.
  for (const r of perRange)
    for (const k of r?.bad ?? []) if (result.sampleKeys.length < ctx.verify.sampleSize) result.sampleKeys.push(showKey(k));
  result.seconds = Number(((performance.now() - started) / 1000).toFixed(3));
  report(true);
  return result;
}

/**
 * Checks values, not bookkeeping: every row is read and the rows where the new value differs
 * from what the old one implies are counted and sampled. The evidence goes to the ledger
 * whether it passes or not.
 */
export async function runVerification(ctx: VerifyContext): Promise<Verification> {
  const runId = await startRun(ctx.pool, ctx.identity, { migrationId: ctx.migration.id, phase: 'verify', action: 'verify' });
  const startedAt = await serverNow(ctx.pool);
  const t0 = performance.now();
  try {
    const perTask: Record<string, TaskResult> = {};
    let rows = 0;
    let mismatches = 0;
    const sampleKeys: unknown[] = [];
    for (const task of ctx.steps.flatMap((s) => s.verify)) {
      const r = await verifyTask(ctx, task);
      perTask[task.id] = r;
      rows += r.rows;
      mismatches += r.mismatches;
      sampleKeys.push(...r.sampleKeys.slice(0, Math.max(0, ctx.verify.sampleSize - sampleKeys.length)));
    }
    const failedChecks: { id: string; description: string; detail: string | null }[] = [];
    for (const check of ctx.steps.flatMap((s) => s.checks)) {
      const [row] = await queryRows<{ ok: boolean; detail: string | null }>(ctx.pool, check.sql);
      if (!row?.ok) failedChecks.push({ id: check.id, description: check.description, detail: row?.detail ?? null });
    }
    mismatches += failedChecks.length;
    const seconds = (performance.now() - t0) / 1000;
    const rowsPerSecond = seconds > 0 ? Math.round(rows / seconds) : null;
    const evidence = await recordVerification(ctx.pool, {
      migrationId: ctx.migration.id,
      startedAt,
      finishedAt: await serverNow(ctx.pool),
      rowsChecked: rows,
      mismatches,
      sampleKeys,
      passed: mismatches === 0,
      details: { tasks: perTask, failedChecks, seconds: Number(seconds.toFixed(3)), rowsPerSecond, workers: ctx.backfill.workers },
    });
    await finishRun(ctx.pool, runId, evidence.passed ? 'succeeded' : 'failed', {
      rowsChecked: rows,
      mismatches,
      sampleKeys,
      seconds: Number(seconds.toFixed(3)),
      rowsPerSecond,
    });
    ctx.log.info(
      { rowsChecked: rows, mismatches, seconds: Number(seconds.toFixed(2)), rowsPerSecond },
      evidence.passed ? 'verification passed' : 'verification FAILED',
    );
    return evidence;
  } catch (error) {
    await finishRun(ctx.pool, runId, error instanceof InterruptedError ? 'interrupted' : 'failed', {}, (error as Error).message).catch(
      () => undefined,
    );
    throw error;
  }
}
