import type { LoadWindow } from './app-load.js';
import type { Summary } from './stats.js';
import type { TriggerOverhead } from './trigger-overhead.js';

/** The shape of benchmarks/results/<date>-<rows>.json. */

export const STRATEGY_KEYS = ['a', 'b', 'c', 'd', 'e', 'f', 'f10k', 'f2'] as const;
export type StrategyKey = (typeof STRATEGY_KEYS)[number];

export const STRATEGY_LABELS: Record<StrategyKey, string> = {
  a: '(a) one UPDATE',
  b: '(b) OFFSET pages, row by row',
  c: '(c) pgroll-style, 1000/batch',
  d: '(d) pgshift, defaults',
  e: '(e) pgshift, 2 workers',
  f: '(f) keyset loop, 50k ranges',
  f10k: '(f10k) keyset loop, 10k ranges',
  f2: '(f2) keyset loop, 50k, 2 conns',
};

export const STRATEGY_DESCRIPTIONS: Record<StrategyKey, string> = {
  a: '`UPDATE t SET email_address = email`: one statement, one transaction.',
  b: 'The Alembic tutorial\'s data migration: `SELECT id, email … ORDER BY id LIMIT 1000 OFFSET n` pages, then one `UPDATE … WHERE id = $2` per row, all in the migration\'s one transaction (as Alembic runs an upgrade on PostgreSQL). Capped; the total is extrapolated linearly from the rows done, which flatters it (each page re-reads every row before its offset, so later pages are slower).',
  c: 'pgroll\'s method: keyset batches of 1000 keys (boundary found with `ORDER BY id OFFSET 999 LIMIT 1`), each `UPDATE t SET id = id WHERE id > $1 AND id <= $2` in its own transaction, only to fire the per-row plpgsql trigger that computes the new value. The trigger is pgshift\'s, which on such an UPDATE sets `NEW.email_address := NEW.email`, as pgroll\'s does.',
  d: '`new Pgshift({ databaseUrl, migrations: [plan], log })`; `advance({ to: \'dual-write\' })` (not timed), then `advance({ to: \'backfill\' })` (timed) and `verify(id)` (timed), in a child process whose peak RSS is reported.',
  e: 'The same as (d) with `backfill: { workers: 2 }`.',
  f: 'A DBA\'s hand-written loop: `UPDATE t SET email_address = email WHERE id > $1 AND id <= $2` over min..max in 50,000-key ranges by id arithmetic, one connection, autocommit per range, no throttling, no checkpoint.',
  f10k: 'The same loop with 10,000-key ranges.',
  f2: 'The same loop, 50,000-key ranges, on 2 connections at once over the two halves of the key range.',
};

export interface PgshiftFigures {
  dualWriteSeconds: number | null;
  /** `ran[].seconds` of the backfill phase as the orchestrator reports it. */
  phaseSeconds: number | null;
  /** `details.settings` of the backfill phase (the settings the engine ran with), if reported. */
  engineSettings: Record<string, unknown> | null;
  /** `details.tasks` of the backfill phase, as reported. */
  tasks: Record<string, unknown> | null;
  workersRequested: number | null;
  /** `details.settings.workers`, if the engine reports it. */
  workersReported: number | null;
  /** Batch durations from the engine (`details.tasks[..].batchMs`), if reported. */
  engineBatchMs: { p50: number | null; p99: number | null; max: number | null } | null;
  /** Batch durations seen through the public `onProgress` events (`lastBatchMs`). */
  progressBatchMs: Summary | null;
  /** Rows per batch seen through `onProgress` (`batchSize`), if the engine reports it. */
  progressBatchRows: Summary | null;
  /** Engine seconds of the backfill task(s) (`details.tasks[..].seconds`, the longest), if reported. */
  engineSeconds: number | null;
  /** Holds seen in the progress events (`holdReason`), with their approximate length. */
  holds: { reason: string; ms: number | null }[];
  verifySeconds: number | null;
  verifyRatio: number | null;
  verification: { rowsChecked: number | null; mismatches: number | null; passed: boolean | null } | null;
  rssAtReadyMb: number | null;
  maxRssAfterBackfillMb: number | null;
  maxRssMb: number | null;
}

export interface StrategyResult {
  key: StrategyKey;
  label: string;
  table: string;
  tableRows: number;
  setupSeconds: number | null;
  /** pgshift's dual-write trigger was on the table while the strategy ran. */
  dualWriteTrigger: boolean;
  /** Total seconds for the whole table: measured, or extrapolated when `extrapolated`. */
  seconds: number | null;
  measuredSeconds: number | null;
  extrapolated: boolean;
  /** (b), when capped: the total from a line fitted to page time against offset (informative only). */
  fittedSeconds: number | null;
  /** tableRows / seconds. */
  rowsPerSecond: number | null;
  ratioToA: number | null;
  /** Rows the strategy's own UPDATEs reported. */
  rowsUpdated: number | null;
  batchUnit: string;
  batches: number | null;
  batchMs: { p50: number | null; p99: number | null; max: number | null } | null;
  batchMsSource: string | null;
  app: {
    before: LoadWindow | null;
    during: LoadWindow | null;
    /** During pgshift's verification (d, e). */
    verify: LoadWindow | null;
    /** p99 during / p99 before. */
    p99Ratio: number | null;
  };
  pgshift: PgshiftFigures | null;
  /** After the strategy: rows where email_address IS DISTINCT FROM email (expected 0 unless capped). */
  check: { rows: number; mismatches: number } | null;
  notes: string[];
  error: string | null;
}

export interface TargetResult {
  id: string;
  label: string;
  goal: string;
  measured: number | null;
  display: string;
  met: boolean | null;
  note: string | null;
}

export interface MachineInfo {
  os: string;
  arch: string;
  cpuModel: string;
  cpus: number;
  totalMemoryGb: number;
  node: string;
  postgres: string | null;
  server: string;
  settingsChanged: Record<string, string>;
  settings: Record<string, string>;
  nonDefaultSettings: { name: string; setting: string; source: string }[];
  gitCommit: string | null;
  /** Files under src/ and phases/ with uncommitted changes when the run started. */
  gitUncommittedEngineFiles: string[] | null;
}

export interface BenchResults {
  format: 1;
  startedAt: string;
  finishedAt: string;
  totalSeconds: number;
  options: {
    rows: number;
    strategies: StrategyKey[];
    appRate: number;
    appInsertShare: number;
    appConnections: number;
    baselineSeconds: number;
    bCapSeconds: number;
    /** Transaction mode of (b): 'once' (Alembic's default on PostgreSQL), 'page' or 'row'. */
    bCommit: string;
    triggerUpdates: number;
    pgshiftRoot: string | null;
  };
  machine: MachineInfo;
  triggerOverhead: TriggerOverhead | { error: string } | null;
  strategies: StrategyResult[];
  targets: TargetResult[];
}
