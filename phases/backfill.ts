import { estimateRows } from '../src/catalog/introspect.js';
import { InterruptedError } from '../src/errors.js';
import { sleep, transaction, withLockRetry } from '../src/db/lock-retry.js';
import { queryRows } from '../src/db/queryable.js';
import { checkpoint, finishProgress, openProgress, recordPhaseDone } from '../src/ledger/ledger.js';
import type { BackfillTask } from '../src/operations/types.js';
import { renderBatchUpdate, renderBoundary, renderLastKey } from '../src/sql/keyset.js';
import type { PhaseContext, PhaseDetails } from './context.js';

type KeyRow = Record<string, string>;

function keyValues(row: KeyRow | undefined, width: number): string[] | null {
  if (!row) return null;
  return Array.from({ length: width }, (_, i) => row[`k${i}`] as string);
}

/**
 * Copies old values into the new shape in keyset batches: find the upper key of the next range,
 * then one UPDATE over the range that computes the value in SQL and a checkpoint, in one short
 * transaction. A rerun after a crash starts at the last committed checkpoint and redoes nothing.
 */
async function runTask(ctx: PhaseContext, task: BackfillTask): Promise<PhaseDetails> {
  const { pool, log, backfill: settings } = ctx;
  const estimate = await estimateRows(pool, task.table);
  const progress = await openProgress(pool, ctx.migration.id, task.id, estimate, { ...settings });
  if (progress.finishedAt) {
    log.info({ task: task.id }, 'backfill task already finished');
    return { rows: 0, resumedFrom: progress.cursor, alreadyFinished: true };
  }
  if (progress.cursor) log.info({ task: task.id, cursor: progress.cursor, rowsDone: progress.rowsDone }, 'resuming backfill from checkpoint');
  const width = task.key.length;
  const startCursor = progress.cursor;
  let cursor = progress.cursor;
  let rowsDone = progress.rowsDone;
  let batches = progress.batches;
  let rowsThisRun = 0;
  const started = performance.now();
  const report = (lastBatchMs: number, finished: boolean) => {
    const seconds = (performance.now() - started) / 1000;
    ctx.onProgress?.({
      migrationId: ctx.migration.id,
      task: task.id,
      kind: 'backfill',
      rowsDone,
      rowEstimate: estimate,
      rowsPerSecond: seconds > 0 ? rowsThisRun / seconds : 0,
      batches,
      lastBatchMs,
      finished,
    });
    return seconds;
  };
  const retry = { policy: ctx.lockPolicy, log, tables: [task.table], observer: pool };
  const client = await pool.connect();
  try {
    for (;;) {
      if (ctx.signal?.aborted) throw new InterruptedError(ctx.migration.id, 'backfill', cursor);
      const has = cursor !== null;
      const cursorParams = cursor ?? [];
      const [boundary] = await queryRows<KeyRow>(client, renderBoundary(task, has), [...cursorParams, settings.batchSize - 1]);
      let upper = keyValues(boundary, width);
      if (!upper) {
        const [last] = await queryRows<KeyRow>(client, renderLastKey(task, has), cursorParams);
        upper = keyValues(last, width);
        if (!upper) break;
      }
      const range = upper;
      const t0 = performance.now();
      // Named by its key range, so a batch that gives up says exactly where; the checkpoint stays before it.
      const what = `backfill batch of ${task.id} over keys (${cursor ? JSON.stringify(cursor) : 'start'}, ${JSON.stringify(range)}]`;
      const updated = await withLockRetry({ ...retry, what }, () =>
        transaction(client, { lockTimeoutMs: ctx.lockPolicy.lockTimeoutMs, statementTimeoutMs: settings.batchTimeoutMs }, async (c) => {
          const result = await c.query(renderBatchUpdate(task, has), [...cursorParams, ...range]);
          await checkpoint(c, ctx.migration.id, task.id, range, result.rowCount ?? 0);
          return result.rowCount ?? 0;
        }),
      );
      const batchMs = performance.now() - t0;
      cursor = range;
      rowsDone += updated;
      rowsThisRun += updated;
      batches += 1;
      report(batchMs, false);
      log.debug({ task: task.id, batch: batches, rows: updated, ms: Math.round(batchMs), cursor }, 'batch');
      if (settings.delayMs > 0) await sleep(settings.delayMs);
    }
    await finishProgress(pool, ctx.migration.id, task.id);
  } finally {
    client.release();
  }
  const seconds = report(0, true);
  return { rowsUpdated: rowsThisRun, rowsDone, batches, resumedFrom: startCursor, seconds: Number(seconds.toFixed(3)) };
}

export async function backfill(ctx: PhaseContext): Promise<PhaseDetails> {
  const tasks: Record<string, PhaseDetails> = {};
  for (const task of ctx.steps.flatMap((s) => s.backfill)) tasks[task.id] = await runTask(ctx, task);
  await recordPhaseDone(ctx.pool, ctx.migration, ctx.checksum, ctx.facts, 'backfill');
  return { tasks, settings: { ...ctx.backfill } };
}
