/**
 * Runs strategies (d) and (e) in a process of its own, so its peak RSS is the orchestrator's:
 *
 *   node --import tsx benchmarks/pgshift-child.ts '<json config>'
 *
 * Protocol (one JSON object per line on stdout, each with a "bench" field; logs go to stderr):
 *   → {"bench":"ready"}            after `advance --to dual-write` (not timed)
 *   ← "go" on stdin                the parent has measured its app-load baseline
 *   → {"bench":"backfill-start"} / {"bench":"backfill-done"} / {"bench":"verify-done"}
 *   → {"bench":"result", ...}      timings, the engine's backfill details, progress-event batch
 *                                  times, verification result, process.resourceUsage().maxRSS
 *   → {"bench":"error", ...}       on failure (exit code 1)
 *
 * It uses only the public library API (`Pgshift`, `onProgress`); it adds nothing to product code.
 */
import path from 'node:path';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';
import { summarize } from './stats.js';

type OrchestratorModule = typeof import('../src/orchestrator.js');
type LoggerModule = typeof import('../src/logger.js');
type PgshiftOptions = ConstructorParameters<OrchestratorModule['Pgshift']>[0];

export interface ChildConfig {
  databaseUrl: string;
  table: string;
  migrationId: string;
  /** PgshiftOptions.backfill, passed through as given (fields the engine does not know are its business). */
  backfill: Record<string, unknown> | null;
  /** Another checkout of pgshift to measure (default: this one). */
  pgshiftRoot: string | null;
  logLevel: string;
}

function emit(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ bench: event, ...fields })}\n`);
}

async function load(config: ChildConfig): Promise<{ orchestrator: OrchestratorModule; logger: LoggerModule }> {
  if (!config.pgshiftRoot) return { orchestrator: await import('../src/orchestrator.js'), logger: await import('../src/logger.js') };
  const from = (file: string) => pathToFileURL(path.resolve(config.pgshiftRoot as string, file)).href;
  return {
    orchestrator: (await import(from('src/orchestrator.ts'))) as OrchestratorModule,
    logger: (await import(from('src/logger.ts'))) as LoggerModule,
  };
}

function waitForGo(): Promise<void> {
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: process.stdin });
    lines.on('line', (line) => {
      if (line.trim() === 'go') {
        // close() emits 'close' synchronously: settle first.
        resolve();
        lines.close();
      }
    });
    lines.on('close', () => reject(new Error('stdin closed before "go"')));
  });
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
  const { orchestrator, logger } = await load(config);
  const plan = {
    id: config.migrationId,
    operations: [{ kind: 'renameColumn' as const, schema: 'public', table: config.table, from: 'email', to: 'email_address' }],
  };
  // Progress events carry each batch's duration: the batch times when the engine does not report them itself.
  const batchMs: number[] = [];
  const batchRows: number[] = [];
  const seen = new Set<string>();
  let phase: 'backfill' | 'other' = 'other';
  // Holds (health signals, pause) as the progress events show them: start at the first event with a
  // holdReason, end at the next event without one (approximate: resumes are not events of their own).
  const holds: { reason: string; ms: number | null }[] = [];
  let holdStarted: number | null = null;
  const endHold = () => {
    const last = holds[holds.length - 1];
    if (holdStarted !== null && last) last.ms = Math.round(performance.now() - holdStarted);
    holdStarted = null;
  };
  const options: PgshiftOptions = {
    databaseUrl: config.databaseUrl,
    migrations: [plan],
    log: logger.createLogger({ level: config.logLevel, pretty: false }),
    application: 'pgshift bench',
    onProgress: (progress) => {
      // Read as a plain record: batchSize and holdReason exist only in newer engines.
      const event = progress as unknown as Record<string, unknown>;
      if (phase !== 'backfill' || event.kind !== 'backfill') return;
      if (typeof event.holdReason === 'string' && event.holdReason) {
        if (holdStarted === null) {
          holdStarted = performance.now();
          holds.push({ reason: event.holdReason, ms: null });
        }
        return;
      }
      endHold();
      if (event.finished) return;
      const key = `${String(event.task)}/${String(event.batches)}`;
      const ms = event.lastBatchMs;
      if (seen.has(key) || typeof ms !== 'number' || !(ms > 0)) return;
      seen.add(key);
      batchMs.push(ms);
      if (typeof event.batchSize === 'number') batchRows.push(event.batchSize);
    },
    ...(config.backfill ? { backfill: config.backfill as unknown as PgshiftOptions['backfill'] } : {}),
  };
  const pgshift = new orchestrator.Pgshift(options);
  try {
    const d0 = performance.now();
    await pgshift.advance({ migration: config.migrationId, to: 'dual-write' });
    const dualWriteSeconds = (performance.now() - d0) / 1000;
    emit('ready', { rssKb: Math.round(process.memoryUsage().rss / 1024) });
    await waitForGo();

    emit('backfill-start');
    phase = 'backfill';
    const b0 = performance.now();
    const advanced = await pgshift.advance({ migration: config.migrationId, to: 'backfill' });
    const backfillSeconds = (performance.now() - b0) / 1000;
    phase = 'other';
    endHold();
    const maxRssAfterBackfillKb = process.resourceUsage().maxRSS;
    emit('backfill-done');

    const v0 = performance.now();
    const [verification] = await pgshift.verify(config.migrationId);
    const verifySeconds = (performance.now() - v0) / 1000;
    emit('verify-done');

    const ran = advanced.migrations.find((m) => m.id === config.migrationId)?.ran ?? [];
    const backfillRun = ran.find((r) => r.phase === 'backfill') ?? ran[0];
    emit('result', {
      dualWriteSeconds,
      backfill: {
        wallSeconds: backfillSeconds,
        phaseSeconds: backfillRun?.seconds ?? null,
        details: backfillRun?.details ?? null,
        progressBatchMs: summarize(batchMs),
        progressBatchRows: summarize(batchRows),
        holds,
      },
      verify: {
        wallSeconds: verifySeconds,
        rowsChecked: verification?.rowsChecked ?? null,
        mismatches: verification?.mismatches ?? null,
        passed: verification?.passed ?? null,
      },
      rss: {
        maxRssAfterBackfillKb,
        maxRssKb: process.resourceUsage().maxRSS,
      },
    });
  } finally {
    await pgshift.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    const e = error as Error & { code?: unknown };
    emit('error', { message: e?.message ?? String(error), code: typeof e?.code === 'string' ? e.code : null, stack: e?.stack ?? null });
    process.exit(1);
  },
);
