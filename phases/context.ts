import type pg from 'pg';
import type { LockPolicy } from '../src/db/lock-retry.js';
import type { RunIdentity } from '../src/ledger/ledger.js';
import type { Logger } from '../src/logger.js';
import type { OperationSteps } from '../src/plan/steps.js';
import type { Migration } from '../src/plan/model.js';

export const VACUUM_HOLDS = ['wraparound', 'all', 'off'] as const;
export type VacuumHold = (typeof VACUUM_HOLDS)[number];

export interface BackfillSettings {
  /** Fixed rows per batch; null = adaptive toward targetMs. Tunable live. */
  batchSize: number | null;
  /** Target time of one batch for the adaptive size, in ms. Tunable live. */
  targetMs: number;
  minBatchSize: number;
  maxBatchSize: number;
  /** Cap on rows per second over all workers; null = none. Tunable live. */
  maxRate: number | null;
  /** Sleep after each batch for this many times its duration. Tunable live. */
  pauseRatio: number;
  /** Fixed sleep after each batch, in ms. */
  delayMs: number;
  /** Hold while replica replay lag exceeds this (ms); null = not checked. Tunable live. */
  maxLagMs: number | null;
  /** Hold while a standby is more than this many bytes of WAL behind the primary; null = not checked. Tunable live. */
  maxLagBytes: number | null;
  /**
   * Budget for app sessions blocked by a batch (ms): when one waits longer, the next batches shrink
   * (src/backfill/app-impact.ts); null = not watched. Tunable live.
   */
  maxAppWaitMs: number | null;
  /** Measure replica lag on this standby instead of on the primary. */
  replicaUrl: string | null;
  /** On the primary: standbys (pg_stat_replication.application_name) that must be attached, or the backfill holds. */
  requireStandbys: string[];
  /**
   * On the primary: how many standbys must be attached, or the backfill holds. null (default) = as
   * many as were attached when the backfill run started.
   */
  minStandbys: number | null;
  /**
   * Which vacuums of the table hold the backfill: `wraparound` (anti-wraparound autovacuums and
   * manual VACUUMs), `all` (every autovacuum too), or `off`.
   */
  holdOnVacuum: VacuumHold;
  /**
   * VACUUM the table each time this percentage of its estimated rows has been backfilled, so later
   * batches reuse the space of the dead row versions (src/backfill/vacuum-step.ts); null = never.
   */
  vacuumEvery: number | null;
  /**
   * After the backfill, REINDEX INDEX CONCURRENTLY each index of the table that grew to at least
   * this many times its size before the backfill (src/backfill/reindex-step.ts); null = never.
   */
  reindexAfter: number | null;
  /** Workers over disjoint key ranges, each with its own connection and checkpoint. */
  workers: number;
  /** statement_timeout of one batch. */
  batchTimeoutMs: number;
  /** Attempts at one batch that times out (each smaller) before the phase fails. */
  maxAttempts: number;
  /** How often a held backfill re-checks its signals, in ms. */
  holdCheckMs: number;
}

/** Settings `pgshift tune` may change while a backfill runs. */
export const TUNABLE_SETTINGS = ['batchSize', 'targetMs', 'maxRate', 'pauseRatio', 'maxLagMs', 'maxLagBytes', 'maxAppWaitMs'] as const;
export type TunableSetting = (typeof TUNABLE_SETTINGS)[number];

export const DEFAULT_BACKFILL_SETTINGS: BackfillSettings = {
  batchSize: null,
  targetMs: 200,
  minBatchSize: 100,
  maxBatchSize: 200_000,
  maxRate: null,
  pauseRatio: 0,
  delayMs: 0,
  maxLagMs: 10_000,
  maxLagBytes: 64 * 1024 * 1024,
  maxAppWaitMs: 50,
  replicaUrl: null,
  requireStandbys: [],
  minStandbys: null,
  holdOnVacuum: 'wraparound',
  vacuumEvery: 20,
  reindexAfter: null,
  workers: 1,
  batchTimeoutMs: 10_000,
  maxAttempts: 5,
  holdCheckMs: 1000,
};

export interface VerifySettings {
  /** Rows per verification chunk (one count query over a key range each). */
  chunkSize: number;
  /** How many mismatching keys to keep as evidence. */
  sampleSize: number;
}

export interface ProgressEvent {
  migrationId: string;
  task: string;
  kind: 'backfill' | 'verify';
  rowsDone: number;
  rowEstimate: number | null;
  rowsPerSecond: number;
  batches: number;
  lastBatchMs: number;
  /** Rows in the last batch's range (backfill). */
  batchSize: number | null;
  /** Why the backfill is holding, when it is. */
  holdReason: string | null;
  finished: boolean;
}

/** What a phase executor gets: the migration with its rendered steps, and how to run them. */
export interface PhaseContext {
  pool: pg.Pool;
  log: Logger;
  identity: RunIdentity;
  lockPolicy: LockPolicy;
  phaseStatementTimeoutMs: number;
  backfill: BackfillSettings;
  verify: VerifySettings;
  migration: Migration;
  checksum: string;
  facts: unknown[];
  steps: OperationSteps[];
  onProgress?: (event: ProgressEvent) => void;
  signal?: AbortSignal;
}

export type PhaseDetails = Record<string, unknown>;
