import type { LoadWindow } from './app-load.js';
import type { Summary } from './stats.js';
import type { TriggerOverhead } from './trigger-overhead.js';

/** The shape of benchmarks/results/<date>-<rows>.json. */

export const STRATEGY_KEYS = ['f0', 'a', 'b', 'c', 'd', 'dng', 'dri', 'e', 'f', 'fs', 'f10k', 'f2'] as const;
export type StrategyKey = (typeof STRATEGY_KEYS)[number];

export const STRATEGY_LABELS: Record<StrategyKey, string> = {
  f0: '(f0) keyset loop, 50k, no trigger',
  a: '(a) one UPDATE',
  b: '(b) OFFSET pages, row by row',
  c: '(c) pgroll-style, 1000/batch',
  d: '(d) pgshift, defaults',
  dng: '(d-ng) pgshift, no app governor',
  dri: '(d-ri) pgshift, --reindex-after',
  e: '(e) pgshift, 2 workers',
  f: '(f) keyset loop, 50k ranges',
  fs: '(f-skip) keyset loop, 50k, trigger skipped',
  f10k: '(f10k) keyset loop, 10k ranges',
  f2: '(f2) keyset loop, 50k, 2 conns',
};

export const STRATEGY_DESCRIPTIONS: Record<StrategyKey, string> = {
  f0: 'The physical limit for one connection, and the baseline of the throughput targets: the hand loop of (f) (50,000-key ranges, autocommit, one connection) on a table **without** the dual-write trigger (only the new column is added). Not a safe way to run a rename (app writes made meanwhile would not reach the new column); it measures what the server can do.',
  a: '`UPDATE t SET email_address = email`: one statement, one transaction.',
  b: "The Alembic tutorial's data migration: `SELECT id, email … ORDER BY id LIMIT 1000 OFFSET n` pages, then one `UPDATE … WHERE id = $2` per row, all in the migration's one transaction (as Alembic runs an upgrade on PostgreSQL). Capped; the total is extrapolated linearly from the rows done, which flatters it (each page re-reads every row before its offset, so later pages are slower).",
  c: "pgroll's method: keyset batches of 1000 keys (boundary found with `ORDER BY id OFFSET 999 LIMIT 1`), each `UPDATE t SET id = id WHERE id > $1 AND id <= $2` in its own transaction, only to fire the per-row plpgsql trigger that computes the new value. The trigger is pgshift's, which on such an UPDATE sets `NEW.email_address := NEW.email`, as pgroll's does.",
  d: "`new Pgshift({ databaseUrl, migrations: [plan], log })`; `advance({ to: 'dual-write' })` (not timed), then `advance({ to: 'backfill' })` (timed) and `verify(id)` (timed), in a child process whose peak RSS is reported.",
  dng: "The same as (d) with the app-impact governor off (`backfill: { maxAppWaitMs: null }`, the CLI's `--max-app-wait off`): the throughput the governor is measured against.",
  dri: "The same as (d) with the opt-in `REINDEX INDEX CONCURRENTLY` of the indexes the backfill grew to 1.5× or more (`backfill: { reindexAfter: 1.5 }`, the CLI's `--reindex-after`): the disk it gets back, and what it costs (its time counts in the backfill's).",
  e: 'The same as (d) with `backfill: { workers: 2 }`.',
  f: "A DBA's hand-written loop: `UPDATE t SET email_address = email WHERE id > $1 AND id <= $2` over min..max in 50,000-key ranges by id arithmetic, one connection, autocommit per range, no throttling, no checkpoint.",
  fs: "The hand loop of (f) with pgshift's trigger on the table but skipped for the loop's own rows, as pgshift's batches skip it: each range is a transaction that first runs `set_config('pgshift.backfill', 'on', true)`, which the trigger's `WHEN` condition checks. The floor for pgshift: what is left between (f0) and this is the cost of the trigger's presence; between this and (d), pgshift's own.",
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

/** pg_table_size (heap, FSM, VM, TOAST) and pg_indexes_size of a strategy's table, in bytes. */
export interface SizeBytes {
  heapBytes: number;
  indexBytes: number;
}

export interface StrategyResult {
  key: StrategyKey;
  /** 1-based round of `--repeat`. */
  round: number;
  /** os.loadavg() (1, 5, 15 min) when the strategy started: the machine is shared. */
  loadAverage: number[];
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
  /**
   * The table's size before the strategy (after its setup) and right after it (app load stopped),
   * with after ÷ before for the heap, the indexes and both.
   */
  size: { before: SizeBytes; after: SizeBytes; heapRatio: number | null; indexRatio: number | null; totalRatio: number | null } | null;
  /** rows/s ÷ rows/s of (f0) in the same round. */
  ratioToLimit: number | null;
  /** rows/s ÷ rows/s of (f) (the same loop with the trigger) in the same round. */
  ratioToTriggerLoop: number | null;
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
  /** os.loadavg() at the start and at the end of the run (format 2). */
  loadAverageStart?: number[];
  loadAverageEnd?: number[];
}

/** A figure over the rounds of `--repeat`: median and spread (min–max) of the rounds that have it. */
export interface Spread {
  median: number | null;
  min: number | null;
  max: number | null;
  n: number;
}

/** One strategy over all rounds. Ratios are taken within each round first, then summarized. */
export interface StrategySummary {
  key: StrategyKey;
  label: string;
  rounds: number;
  failed: number;
  extrapolated: boolean;
  rowsPerSecond: Spread;
  seconds: Spread;
  ratioToLimit: Spread;
  ratioToTriggerLoop: Spread;
  ratioToA: Spread;
  batches: Spread;
  batchP99: Spread;
  appBeforeP50: Spread;
  appBeforeP99: Spread;
  appDuringP50: Spread;
  appDuringP99: Spread;
  appP99Ratio: Spread;
  heapRatio: Spread;
  indexRatio: Spread;
  totalRatio: Spread;
  verifySeconds: Spread;
  verifyRatio: Spread;
  maxRssMb: Spread;
}

export interface BenchResults {
  /** 1: one round, `strategies` only. 2: `--repeat`, `strategies` holds every round's runs and `summaries` the medians. */
  format: 1 | 2;
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
    /** Rounds (`--repeat`); every strategy runs once per round, in reverse order on even rounds. */
    repeat?: number;
    /** `--note`: what the operator says about the run (e.g. a shared machine). */
    note?: string | null;
  };
  machine: MachineInfo;
  triggerOverhead: TriggerOverhead | { error: string } | null;
  strategies: StrategyResult[];
  /** Per strategy over the rounds (format 2). */
  summaries?: StrategySummary[];
  targets: TargetResult[];
}
