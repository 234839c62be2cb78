import type { Logger, ProgressEvent } from '../index.js';
import type { TerminalLine } from './terminal.js';

/** Seconds as `45s`, `12m05s`, `3h07m`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function eta(e: ProgressEvent): string {
  if (e.holdReason) return 'held';
  if (!e.rowEstimate || e.rowsPerSecond <= 0) return '?';
  return formatDuration((e.rowEstimate - e.rowsDone) / e.rowsPerSecond);
}

const BAR_WIDTH = 40;

/** The status line of one event: `backfill <id> [████░░…] 26% | 26000/100000 rows | 8491 rows/s | ETA 17s | batch 500`. */
export function progressLine(e: ProgressEvent): string {
  // Finished means finished: the estimate was only an estimate.
  const total = e.finished ? Math.max(e.rowsDone, 1) : Math.max(e.rowEstimate ?? 0, e.rowsDone, 1);
  const fraction = Math.min(1, e.rowsDone / total);
  const filled = Math.round(fraction * BAR_WIDTH);
  const extra = e.holdReason ? ` | HELD: ${e.holdReason}` : e.kind === 'backfill' && e.batchSize ? ` | batch ${e.batchSize}` : '';
  return (
    `${e.kind} ${e.migrationId} [${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}] ${Math.floor(fraction * 100)}% | ` +
    `${e.rowsDone}/${total} rows | ${Math.round(e.rowsPerSecond)} rows/s | ETA ${eta(e)}${extra}`
  );
}

/** Without a TTY, one progress line every this many batches or this many ms, whichever comes first. */
const LOG_EVERY_BATCHES = 10;
const LOG_EVERY_MS = 5000;

/**
 * Backfill and verification progress: a status line on a terminal (rows, %, rows/s, ETA, batch
 * size, hold reason) with the logs printed above it, otherwise a JSON log line every few batches
 * with the same fields, and at once when a hold starts or ends.
 */
export function progressReporter(log: Logger, terminal: TerminalLine | null): { onProgress: (e: ProgressEvent) => void; stop: () => void } {
  let lastLog = 0;
  let lastLoggedBatches = 0;
  let lastHold: string | null = null;
  let shownKey = '';
  const stop = () => {
    terminal?.done();
    shownKey = '';
  };
  const onProgress = (e: ProgressEvent) => {
    if (terminal) {
      const key = `${e.kind}:${e.migrationId}:${e.task}`;
      // A new task keeps the last line of the previous one in the scrollback.
      if (shownKey && shownKey !== key) terminal.done();
      shownKey = key;
      terminal.show(progressLine(e));
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
