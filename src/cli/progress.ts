import cliProgress from 'cli-progress';
import type { Logger } from '../logger.js';
import type { ProgressEvent } from '../../phases/context.js';

function eta(e: ProgressEvent): string {
  if (!e.rowEstimate || e.rowsPerSecond <= 0) return '?';
  const s = Math.max(0, (e.rowEstimate - e.rowsDone) / e.rowsPerSecond);
  return s < 60 ? `${Math.round(s)}s` : `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
}

/** Without a TTY, one progress line every this many batches or this many ms, whichever comes first. */
const LOG_EVERY_BATCHES = 10;
const LOG_EVERY_MS = 5000;

/**
 * Backfill and verification progress: a bar on a TTY (rows, %, rows/s, ETA, batch size, hold
 * reason), otherwise a JSON log line every few batches with the same fields, and at once when a
 * hold starts or ends.
 */
export function progressReporter(log: Logger, tty: boolean): { onProgress: (e: ProgressEvent) => void; stop: () => void } {
  let bar: cliProgress.SingleBar | null = null;
  let barKey = '';
  let lastLog = 0;
  let lastLoggedBatches = 0;
  let lastHold: string | null = null;
  const stop = () => {
    bar?.stop();
    bar = null;
    barKey = '';
  };
  const onProgress = (e: ProgressEvent) => {
    // Finished means finished: the estimate was only an estimate.
    const total = e.finished ? Math.max(e.rowsDone, 1) : Math.max(e.rowEstimate ?? 0, e.rowsDone, 1);
    const payload = {
      label: `${e.kind} ${e.migrationId}`,
      rate: Math.round(e.rowsPerSecond),
      etaText: e.holdReason ? 'held' : eta(e),
      extra: e.holdReason ? ` | HELD: ${e.holdReason}` : e.kind === 'backfill' && e.batchSize ? ` | batch ${e.batchSize}` : '',
    };
    if (tty) {
      const key = `${e.kind}:${e.migrationId}:${e.task}`;
      if (barKey !== key) {
        stop();
        bar = new cliProgress.SingleBar(
          {
            format: '{label} [{bar}] {percentage}% | {value}/{total} rows | {rate} rows/s | ETA {etaText}{extra}',
            stream: process.stderr,
            hideCursor: true,
            clearOnComplete: false,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, e.rowsDone, payload);
        barKey = key;
      }
      bar?.setTotal(total);
      bar?.update(e.rowsDone, payload);
      if (e.finished) stop();
      return;
    }
    const now = Date.now();
    const holdChanged = e.holdReason !== lastHold;
    lastHold = e.holdReason;
    if (e.finished || holdChanged || now - lastLog >= LOG_EVERY_MS || e.batches - lastLoggedBatches >= LOG_EVERY_BATCHES) {
      lastLog = now;
      lastLoggedBatches = e.batches;
      log.info(
        {
          kind: e.kind,
          task: e.task,
          rowsDone: e.rowsDone,
          rowEstimate: e.rowEstimate,
          percent: e.rowEstimate ? Math.min(100, Math.round((100 * e.rowsDone) / e.rowEstimate)) : null,
          rowsPerSecond: Math.round(e.rowsPerSecond),
          eta: eta(e),
          batches: e.batches,
          batchSize: e.batchSize,
          holdReason: e.holdReason,
        },
        `${e.kind} progress`,
      );
    }
  };
  return { onProgress, stop };
}
