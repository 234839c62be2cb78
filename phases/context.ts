import type pg from 'pg';
import type { LockPolicy } from '../src/db/lock-retry.js';
import type { RunIdentity } from '../src/ledger/ledger.js';
import type { Logger } from '../src/logger.js';
import type { OperationSteps } from '../src/operations/types.js';
import type { Migration } from '../src/plan/model.js';

export interface BackfillSettings {
  /** Rows per batch (keyset range). */
  batchSize: number;
  /** Sleep between batches, in ms. */
  delayMs: number;
  /** statement_timeout of each batch. */
  batchTimeoutMs: number;
}

export interface VerifySettings {
  /** Rows per verification chunk. */
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
