import pLimit from 'p-limit';
import type pg from 'pg';
import { appImpactShrink, watchingAppImpact } from '../src/backfill/app-impact.js';
import { Governor, sleepUnlessAborted } from '../src/backfill/governor.js';
import { splitRanges } from '../src/backfill/ranges.js';
import { BatchSizer } from '../src/backfill/sizer.js';
import { indexSizes, reindexGrown, type IndexSize, type ReindexSummary } from '../src/backfill/reindex-step.js';
import { tableSize, VacuumStep } from '../src/backfill/vacuum-step.js';
import { estimateRows } from '../src/catalog/introspect.js';
import { estimatePendingRows } from '../src/catalog/estimate-pending.js';
import { backendPid, backoffMs, transaction, watchingBlockers } from '../src/db/lock-retry.js';
import { queryRows } from '../src/db/queryable.js';
import { runSteps } from '../src/db/run-steps.js';
import { BackfillBatchError, InterruptedError, SqlState, sqlStateOf } from '../src/errors.js';
import {
  createProgress,
  finishProgress,
  noteHold,
  noteProgressSettings,
  readProgress,
  recordPhaseDone,
  renderBatchWithCheckpoint,
  type BackfillProgress,
} from '../src/ledger/ledger.js';
import { BACKFILL_SETTING } from '../src/operations/blocks/names.js';
import type { BackfillTask } from '../src/plan/steps.js';
import { literal } from '../src/sql/ident.js';
import { renderBatchUpdate, renderBoundary, renderLastKey } from '../src/sql/keyset.js';
import type { PhaseContext, PhaseDetails } from './context.js';
import { overridesOf } from './ddl-phase.js';

type KeyRow = Record<string, string>;

/**
 * Transaction-local settings of every batch. The sync trigger skips the batch's rows (the UPDATE
 * computes them in full). The commit does not wait for its WAL flush: the batch and its checkpoint
 * commit together, so a server crash can only lose both (the rerun redoes that range), and the
 * phase's final ledger write is a synchronous commit, which flushes every batch before it.
 */
const BATCH_SETTINGS = { [BACKFILL_SETTING]: 'on', synchronous_commit: 'off' } as const;

const TIMEOUT_STATES: readonly string[] = [SqlState.lockNotAvailable, SqlState.queryCanceled, SqlState.deadlockDetected];

/** Batch durations for p50/p99, kept to a bounded reservoir so memory stays flat on any table. */
class Durations {
  private readonly samples: number[] = [];
  private seen = 0;
  max = 0;
  add(ms: number): void {
    this.seen++;
    this.max = Math.max(this.max, ms);
    if (this.samples.length < 20_000) this.samples.push(ms);
    else {
      const j = Math.floor(Math.random() * this.seen);
      if (j < this.samples.length) this.samples[j] = ms;
    }
  }
  summary() {
    const sorted = [...this.samples].sort((a, b) => a - b);
    const at = (q: number) =>
      sorted.length ? Number(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1)) : null;
    return { count: this.seen, p50: at(0.5), p99: at(0.99), max: Number(this.max.toFixed(1)) };
  }
}

interface Worker {
  progress: BackfillProgress;
  cursor: string[] | null;
  rowsUpdated: number;
  batches: number;
  held: string | null;
  sizer: BatchSizer;
  /** Batches that kept app sessions waiting, and the longest such wait (ms). */
  appBlockingBatches: number;
  maxAppWaitMs: number;
  /** Time in batch cycles (hold checks, boundary, BEGIN, the batch statement; not holds or throttle sleeps), and in the batch statements alone (ms). */
  cycleMs: number;
  updateMs: number;
}

function keyValues(row: KeyRow | undefined, width: number): string[] | null {
  if (!row) return null;
  return Array.from({ length: width }, (_, i) => row[`k${i}`] as string);
}

/**
 * One backfill task over the table, split among workers on disjoint key ranges. Each batch:
 * hold while paused or a health signal says so; find the upper key of the next range (size from
 * the adaptive sizer); one UPDATE over (cursor, upper] that computes the value in SQL, plus the
 * worker's checkpoint, in one short transaction with statement_timeout and lock_timeout; on a
 * timeout, retry smaller, a bounded number of times; then sleep as the throttles say.
 */
async function runTask(ctx: PhaseContext, task: BackfillTask, stop: AbortSignal): Promise<PhaseDetails> {
  const { pool, log } = ctx;
  const id = ctx.migration.id;
  // The table's size, for sampling key-range boundaries; progress counts the rows to update.
  const tableRows = await estimateRows(pool, task.table);
  const governor = new Governor(pool, id, ctx.backfill, [task.table], log);
  await governor.refresh();
  let rows = await readProgress(pool, id, task.id);
  // Index sizes when the backfill first started, kept with its progress: what --reindex-after compares with, on any rerun.
  const indexesBefore = rows.length
    ? ((rows[0]!.settings.indexSizesBefore as IndexSize[] | undefined) ?? null)
    : await indexSizes(pool, task.table);
  const settingsNote = { ...governor.settings, replicaUrl: governor.settings.replicaUrl ? '(set)' : null, indexSizesBefore: indexesBefore };

  const pending = await estimatePendingRows(pool, task);
  const estimate = pending === null ? tableRows : rows.reduce((n, r) => n + r.rowsDone, 0) + pending;
  if (!rows.length) {
    const ranges = await splitRanges(pool, task, governor.settings.workers, tableRows);
    await createProgress(
      pool,
      id,
      ranges.map((r, i) => ({ task: `${task.id}#${i}`, rangeStart: r.start, rangeEnd: r.end })),
      estimate,
      settingsNote,
    );
    rows = await readProgress(pool, id, task.id);
    log.info({ task: task.id, workers: rows.length, ranges: ranges.map((r) => [r.start, r.end]) }, 'backfill key ranges');
  } else {
    await noteProgressSettings(pool, id, task.id, estimate, settingsNote);
    if (rows.length !== governor.settings.workers)
      log.warn({ task: task.id, workers: rows.length }, `resuming with the ${rows.length} worker range(s) recorded at the first start`);
  }

  const sizeBefore = await tableSize(pool, task.table);
  const vacuum = new VacuumStep(
    pool,
    task.table,
    governor.settings.vacuumEvery,
    estimate,
    ctx.lockPolicy.lockTimeoutMs,
    governor.ownVacuumPids,
    log,
  );
  const started = performance.now();
  const durations = new Durations();
  const sizerSettings = () => {
    const s = governor.settings;
    return {
      batchSize: s.batchSize,
      targetMs: s.targetMs,
      minBatchSize: s.minBatchSize,
      maxBatchSize: s.maxBatchSize,
      maxAppWaitMs: s.maxAppWaitMs,
    };
  };
  const workers: Worker[] = rows.map((progress) => ({
    progress,
    cursor: progress.cursor,
    rowsUpdated: 0,
    batches: 0,
    held: null,
    sizer: new BatchSizer(sizerSettings()),
    appBlockingBatches: 0,
    maxAppWaitMs: 0,
    cycleMs: 0,
    updateMs: 0,
  }));
  const emit = (w: Worker | null, lastBatchMs: number, finished: boolean) => {
    const seconds = (performance.now() - started) / 1000;
    const thisRun = workers.reduce((n, x) => n + x.rowsUpdated, 0);
    ctx.onProgress?.({
      migrationId: id,
      task: task.id,
      kind: 'backfill',
      rowsDone: workers.reduce((n, x) => n + x.progress.rowsDone + x.rowsUpdated, 0),
      rowEstimate: estimate,
      rowsPerSecond: seconds > 0 ? thisRun / seconds : 0,
      batches: workers.reduce((n, x) => n + x.progress.batches + x.batches, 0),
      lastBatchMs,
      batchSize: w ? w.sizer.current : null,
      holdReason: workers.find((x) => x.held)?.held ?? null,
      finished,
    });
  };

  // The first worker to fail stops the others between batches; its error is the one reported.
  const failed = new AbortController();
  const workerStop = AbortSignal.any([stop, failed.signal]);

  const runWorker = async (w: Worker) => {
    if (w.progress.finishedAt) return;
    if (w.progress.batches > 0)
      log.info({ task: w.progress.task, cursor: w.cursor, rowsDone: w.progress.rowsDone }, 'resuming backfill from checkpoint');
    const client = await pool.connect();
    const workerStarted = performance.now();
    try {
      for (;;) {
        if (workerStop.aborted) throw new InterruptedError(id, 'backfill', w.cursor);
        let cycleStart = performance.now();
        // Hold while paused or unhealthy; the reason goes to the log, the ledger and the progress bar.
        // The hold check (on the pool) and the next range's boundary (on this connection) at once.
        const sized = w.sizer.current;
        const ahead = boundaryOf(task, w, client, sized);
        const first = await governor.holdReason().catch(async (error: unknown) => {
          await ahead.catch(() => undefined);
          throw error;
        });
        let boundary: { size: number; row: Promise<KeyRow | undefined> } | null = { size: sized, row: ahead };
        if (first) {
          await ahead.catch(() => undefined);
          boundary = null;
        }
        for (let reason = first; reason; reason = await governor.holdReason()) {
          if (reason !== w.held) {
            w.held = reason;
            log.warn({ task: w.progress.task, reason }, `backfill holding: ${reason}`);
            await noteHold(pool, id, w.progress.task, reason);
            emit(w, 0, false);
          }
          await sleepUnlessAborted(governor.settings.holdCheckMs, workerStop);
          if (workerStop.aborted) throw new InterruptedError(id, 'backfill', w.cursor);
        }
        if (w.held) {
          log.info({ task: w.progress.task }, 'backfill going on');
          w.held = null;
          await noteHold(pool, id, w.progress.task, null);
          cycleStart = performance.now();
        }
        w.sizer.update(sizerSettings());
        // Settings changed live (pgshift tune): the boundary was found for the old size.
        if (boundary && w.sizer.current !== boundary.size) {
          await boundary.row.catch(() => undefined);
          boundary = null;
        }
        const batch = await runBatch(ctx, task, w, client, governor, workerStarted, boundary);
        if (!batch) break;
        w.cycleMs += performance.now() - cycleStart;
        w.updateMs += batch.updateMs;
        durations.add(batch.ms);
        w.sizer.record(batch.rangeRows, batch.ms);
        if (batch.impact.blockedSessions) {
          w.appBlockingBatches += 1;
          w.maxAppWaitMs = Math.max(w.maxAppWaitMs, batch.impact.maxWaitMs);
          const budget = governor.settings.maxAppWaitMs;
          if (budget !== null) {
            const wasCapped = w.sizer.appCappedAt();
            const next = w.sizer.noteAppContention();
            if (!wasCapped && w.sizer.appCappedAt())
              log.info(
                { task: w.progress.task, ...batch.impact, budgetMs: budget, nextSize: next },
                `app sessions wait on backfill batches: batches now aim at ${budget} ms (--max-app-wait) instead of ${governor.settings.targetMs} ms`,
              );
          }
          const factor = appImpactShrink(batch.impact, budget);
          if (factor < 1) {
            const next = w.sizer.shrinkForApp(factor);
            log.warn(
              { task: w.progress.task, ...batch.impact, budgetMs: governor.settings.maxAppWaitMs, nextSize: next },
              'backfill batch kept app sessions waiting over budget; shrinking',
            );
          }
        }
        emit(w, batch.ms, false);
        vacuum.afterBatch(workers.reduce((n, x) => n + x.rowsUpdated, 0));
        await sleepUnlessAborted(governor.sleepAfter(batch.rangeRows, batch.ms, workers.length), workerStop);
      }
      await finishProgress(pool, id, w.progress.task);
    } finally {
      client.release();
    }
  };

  const limit = pLimit(workers.length);
  await Promise.allSettled(workers.map((w) => limit(() => runWorker(w).catch((error: unknown) => failed.abort(error)))));
  // The last VACUUM may still run: wait for it (the final steps' VALIDATE takes the same lock), or
  // cancel it when the run stopped.
  await vacuum.settle({ cancel: failed.signal.aborted || stop.aborted });
  await governor.close();
  emit(null, 0, true);
  if (failed.signal.aborted) throw failed.signal.reason;

  const seconds = (performance.now() - started) / 1000;
  const sizeAfter = await tableSize(pool, task.table);
  let reindex: ReindexSummary | { skipped: string } | null = null;
  let sizeAfterReindex: typeof sizeAfter | null = null;
  if (ctx.backfill.reindexAfter !== null && !stop.aborted) {
    if (!indexesBefore) {
      reindex = { skipped: 'no index sizes were recorded when this backfill first started (begun by an older pgshift)' };
      log.warn({ task: task.id }, `--reindex-after: ${reindex.skipped}`);
    } else {
      reindex = await reindexGrown({
        pool,
        log,
        lockPolicy: ctx.lockPolicy,
        table: task.table,
        before: indexesBefore,
        growthAtLeast: ctx.backfill.reindexAfter,
      });
      sizeAfterReindex = await tableSize(pool, task.table);
    }
  }
  const rowsUpdated = workers.reduce((n, w) => n + w.rowsUpdated, 0);
  return {
    rowsUpdated,
    rowsDone: workers.reduce((n, w) => n + w.progress.rowsDone + w.rowsUpdated, 0),
    batches: workers.reduce((n, w) => n + w.batches, 0),
    seconds: Number(seconds.toFixed(3)),
    rowsPerSecond: seconds > 0 ? Math.round(rowsUpdated / seconds) : null,
    batchMs: durations.summary(),
    // What each batch costs besides its batch statement (the UPDATE with its checkpoint and COMMIT):
    // the hold check, the boundary query and BEGIN (holds and throttle sleeps left out).
    overhead: overheadOf(workers),
    // Batches that kept app sessions waiting on their row locks, and the longest wait (ms).
    appImpact: {
      blockingBatches: workers.reduce((n, w) => n + w.appBlockingBatches, 0),
      maxWaitMs: Math.round(Math.max(0, ...workers.map((w) => w.maxAppWaitMs))),
      budgetMs: governor.settings.maxAppWaitMs,
    },
    // The backfill's own VACUUMs (--vacuum-every) and the table's size before and after this run.
    vacuum: { ...vacuum.summary, ms: Math.round(vacuum.summary.ms) },
    tableSize: {
      before: sizeBefore,
      after: sizeAfter,
      heapGrowth: ratio(sizeAfter.heapBytes, sizeBefore.heapBytes),
      indexGrowth: ratio(sizeAfter.indexBytes, sizeBefore.indexBytes),
      afterReindex: sizeAfterReindex,
      indexGrowthAfterReindex: sizeAfterReindex ? ratio(sizeAfterReindex.indexBytes, sizeBefore.indexBytes) : null,
    },
    // --reindex-after: the indexes rebuilt with REINDEX INDEX CONCURRENTLY, each with its sizes.
    reindex,
    resumedFrom: workers.length === 1 ? workers[0]!.progress.cursor : workers.map((w) => w.progress.cursor),
    workers: workers.map((w) => ({
      task: w.progress.task,
      range: [w.progress.rangeStart, w.progress.rangeEnd],
      resumedFrom: w.progress.cursor,
      rowsUpdated: w.rowsUpdated,
      batches: w.batches,
      lastBatchSize: w.sizer.current,
      appImpact: { blockingBatches: w.appBlockingBatches, maxWaitMs: w.maxAppWaitMs },
    })),
  };

  async function runBatch(
    ctx: PhaseContext,
    task: BackfillTask,
    w: Worker,
    client: pg.PoolClient,
    gov: Governor,
    since: number,
    found: { size: number; row: Promise<KeyRow | undefined> } | null,
  ) {
    const width = task.key.length;
    const end = w.progress.rangeEnd;
    const bounds = { cursor: w.cursor !== null, end: end !== null };
    const boundParams = [...(w.cursor ?? []), ...(end ?? [])];
    for (let attempt = 1; ; attempt++) {
      const size = w.sizer.current;
      // The first attempt may use the boundary found while the hold check ran; a retry is smaller.
      const boundary = attempt === 1 && found?.size === size ? await found.row : await boundaryOf(task, w, client, size);
      let upper = keyValues(boundary, width);
      let rangeRows = size;
      if (!upper) {
        const [last] = await queryRows<KeyRow>(client, renderLastKey(task, bounds), boundParams);
        upper = keyValues(last, width);
        if (!upper) return null;
        rangeRows = 0;
      }
      const range = upper;
      const t0 = performance.now();
      const what = `backfill batch of ${w.progress.task} over keys (${w.cursor ? JSON.stringify(w.cursor) : 'start'}, ${JSON.stringify(range)}]`;
      const pid = await backendPid(client);
      let updateMs = 0;
      const appWatch = { observer: ctx.pool, pid, everyMs: Math.max(10, Math.min(50, (gov.settings.maxAppWaitMs ?? 50) / 2)) };
      const outcome = await watchingBlockers(
        { observer: ctx.pool, pid, log: ctx.log, what, everyMs: Math.max(50, Math.min(250, ctx.lockPolicy.lockTimeoutMs / 2)) },
        () =>
          watchingAppImpact(appWatch, () =>
            transaction(
              client,
              {
                lockTimeoutMs: ctx.lockPolicy.lockTimeoutMs,
                statementTimeoutMs: gov.settings.batchTimeoutMs,
                local: BATCH_SETTINGS,
                bodyCommits: true,
              },
              async (c) => {
                // The UPDATE, the worker's checkpoint and the COMMIT in one round trip (values inlined).
                const values = [...(w.cursor ?? []), ...range];
                const update = renderBatchUpdate(task, w.cursor !== null, (i) => literal(values[i - 1]!));
                const statement = renderBatchWithCheckpoint(update, ctx.migration.id, w.progress.task, {
                  cursor: range,
                  batchSize: size,
                  rowsBefore: w.rowsUpdated,
                  elapsedSeconds: (performance.now() - since) / 1000,
                });
                const u0 = performance.now();
                const results = (await c.query(`${statement}; COMMIT`)) as unknown as pg.QueryResult<{ n: number }>[];
                updateMs = performance.now() - u0;
                return results[0]!.rows[0]!.n;
              },
            ),
          ),
      );
      if (outcome.ok) {
        const ms = performance.now() - t0;
        const { result: n, impact } = outcome.result;
        w.cursor = range;
        w.rowsUpdated += n;
        w.batches += 1;
        ctx.log.debug({ task: w.progress.task, rows: n, size, ms: Math.round(ms), cursor: range, appImpact: impact }, 'batch');
        return { rangeRows: rangeRows || n, ms, impact, updateMs };
      }
      const state = sqlStateOf(outcome.error);
      if (!state || !TIMEOUT_STATES.includes(state)) throw outcome.error;
      if (attempt >= gov.settings.maxAttempts)
        throw new BackfillBatchError(ctx.migration.id, w.progress.task, w.cursor, range, attempt, size, state, outcome.blockers, {
          cause: outcome.error,
        });
      const smaller = w.sizer.shrinkAfterTimeout();
      const delay = backoffMs(ctx.lockPolicy, attempt - 1);
      ctx.log.warn(
        {
          task: w.progress.task,
          attempt,
          of: gov.settings.maxAttempts,
          sqlstate: state,
          from: w.cursor,
          to: range,
          nextSize: smaller,
          retryInMs: delay,
          blockers: outcome.blockers,
        },
        `backfill batch timed out (${state === SqlState.queryCanceled ? 'statement_timeout' : 'lock wait'}); retrying smaller`,
      );
      await sleepUnlessAborted(delay);
    }
  }
}

function overheadOf(workers: readonly Worker[]) {
  const cycle = workers.reduce((n, w) => n + w.cycleMs, 0);
  const update = workers.reduce((n, w) => n + w.updateMs, 0);
  const batches = workers.reduce((n, w) => n + w.batches, 0);
  return {
    ms: Math.round(cycle - update),
    perBatchMs: batches ? Number(((cycle - update) / batches).toFixed(2)) : null,
    share: cycle > 0 ? Number(((cycle - update) / cycle).toFixed(4)) : null,
  };
}

/** The key `size` rows past the worker's cursor (within its range), or undefined near the end. */
async function boundaryOf(task: BackfillTask, w: Worker, client: pg.PoolClient, size: number): Promise<KeyRow | undefined> {
  const end = w.progress.rangeEnd;
  const [row] = await queryRows<KeyRow>(client, renderBoundary(task, { cursor: w.cursor !== null, end: end !== null }), [
    ...(w.cursor ?? []),
    ...(end ?? []),
    size - 1,
  ]);
  return row;
}

function ratio(after: number, before: number): number | null {
  return before > 0 ? Number((after / before).toFixed(2)) : null;
}

export async function backfill(ctx: PhaseContext): Promise<PhaseDetails> {
  const stop = ctx.signal ?? new AbortController().signal;
  const tasks: Record<string, PhaseDetails> = {};
  for (const task of ctx.steps.flatMap((s) => s.backfill)) tasks[task.id] = await runTask(ctx, task, stop);
  if (stop.aborted) throw new InterruptedError(ctx.migration.id, 'backfill', null);
  const afterSteps = ctx.steps.flatMap((s) => s.afterBackfill);
  const after = await runSteps(ctx, afterSteps, (client) => recordPhaseDone(client, ctx.migration, ctx.checksum, ctx.facts, 'backfill'));
  return {
    tasks,
    ...(after.ran.length || after.skipped.length ? { afterBackfill: { statements: after.ran.length, skipped: after.skipped } } : {}),
    ...overridesOf(afterSteps),
    settings: { ...ctx.backfill, replicaUrl: ctx.backfill.replicaUrl ? '(set)' : null },
  };
}
