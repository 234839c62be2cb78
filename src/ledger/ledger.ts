import os from 'node:os';
import type pg from 'pg';
import { PgshiftError, ExitCode } from '../errors.js';
import { queryRows, type Queryable } from '../db/queryable.js';
import type { Migration, Phase } from '../plan/model.js';
import { PGSHIFT_SCHEMA } from '../operations/blocks/names.js';
import { literal } from '../sql/ident.js';
import { VERSION } from '../version.js';
import { LEDGER_MIGRATIONS, LEDGER_VERSION } from './schema.js';

export class LedgerTooNewError extends PgshiftError {
  readonly exitCode = ExitCode.failure;
  readonly code = 'ledger_too_new';
  constructor(
    readonly found: number,
    readonly known: number,
  ) {
    super(`the pgshift ledger in this database is version ${found}, newer than this pgshift knows (${known}); upgrade pgshift`);
  }
}

export interface MigrationRecord {
  id: string;
  checksum: string;
  description: string | null;
  plan: Migration;
  facts: unknown[];
  /** Last completed phase. A migration with no record is pending. */
  state: Phase;
  createdAt: Date;
  updatedAt: Date;
}

/** `stamp`: a phase recorded done without running it (`pgshift stamp`). */
export type RunAction = 'apply' | 'rollback' | 'verify' | 'stamp' | 'tune' | 'pause' | 'resume';
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'refused' | 'interrupted';

export interface PhaseRun {
  id: number;
  migrationId: string;
  phase: string;
  action: RunAction;
  status: RunStatus;
  startedAt: Date;
  finishedAt: Date | null;
  host: string | null;
  pid: number | null;
  application: string | null;
  backendPid: number | null;
  pgshiftVersion: string | null;
  details: Record<string, unknown>;
  error: string | null;
}

export interface BackfillProgress {
  migrationId: string;
  /** `<task id>#<worker>`: one row per worker, each over its own key range. */
  task: string;
  cursor: string[] | null;
  /** The worker's range is (rangeStart, rangeEnd]; null means unbounded. */
  rangeStart: string[] | null;
  rangeEnd: string[] | null;
  rowsDone: number;
  batches: number;
  rowEstimate: number | null;
  settings: Record<string, unknown>;
  batchSize: number | null;
  rowsPerSecond: number | null;
  holdReason: string | null;
  heldSince: Date | null;
  startedAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

export interface Verification {
  id: number;
  migrationId: string;
  startedAt: Date;
  finishedAt: Date;
  rowsChecked: number;
  mismatches: number;
  sampleKeys: unknown[];
  passed: boolean;
  details: Record<string, unknown>;
}

const S = PGSHIFT_SCHEMA;

export async function ledgerVersion(db: Queryable): Promise<number | null> {
  const [row] = await queryRows<{ exists: boolean }>(db, `SELECT to_regclass('${S}.ledger_version') IS NOT NULL AS exists`);
  if (!row?.exists) return null;
  const [v] = await queryRows<{ version: number | null }>(db, `SELECT max(version) AS version FROM ${S}.ledger_version`);
  return v?.version ?? 0;
}

/** Creates or upgrades the ledger. Call under the orchestrator lock. */
export async function ensureLedger(client: pg.ClientBase): Promise<void> {
  const current = await ledgerVersion(client);
  if (current !== null && current > LEDGER_VERSION) throw new LedgerTooNewError(current, LEDGER_VERSION);
  if (current === LEDGER_VERSION) return;
  await client.query('BEGIN');
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${S}`);
    await client.query(`COMMENT ON SCHEMA ${S} IS 'pgshift: migration ledger and dual-write trigger functions'`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${S}.ledger_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(), pgshift_version text)`,
    );
    for (let v = (current ?? 0) + 1; v <= LEDGER_VERSION; v++) {
      await client.query(LEDGER_MIGRATIONS[v - 1] as string);
      await client.query(`INSERT INTO ${S}.ledger_version (version, pgshift_version) VALUES ($1, $2)`, [v, VERSION]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

function toMigrationRecord(r: Record<string, unknown>): MigrationRecord {
  return {
    id: r.id as string,
    checksum: r.checksum as string,
    description: (r.description as string | null) ?? null,
    plan: r.plan as Migration,
    facts: r.facts as unknown[],
    state: r.state as Phase,
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
  };
}

/** All migration records; empty when the ledger does not exist yet (reading never creates it). */
export async function readMigrations(db: Queryable): Promise<Map<string, MigrationRecord>> {
  if ((await ledgerVersion(db)) === null) return new Map();
  const rows = await queryRows(db, `SELECT * FROM ${S}.migrations ORDER BY id`);
  return new Map(rows.map((r) => [r.id as string, toMigrationRecord(r)]));
}

export async function readMigration(db: Queryable, id: string): Promise<MigrationRecord | null> {
  if ((await ledgerVersion(db)) === null) return null;
  const [row] = await queryRows(db, `SELECT * FROM ${S}.migrations WHERE id = $1`, [id]);
  return row ? toMigrationRecord(row) : null;
}

/** Records that `phase` completed; runs inside the phase's own transaction. */
export async function recordPhaseDone(
  db: Queryable,
  migration: Migration,
  checksum: string,
  facts: unknown[],
  phase: Phase,
): Promise<void> {
  await db.query(
    `INSERT INTO ${S}.migrations (id, checksum, description, plan, facts, state)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, updated_at = clock_timestamp()`,
    [migration.id, checksum, migration.description ?? null, JSON.stringify(migration), JSON.stringify(facts), phase],
  );
}

/** Forgets a rolled-back migration's state, progress and evidence; its run history stays. */
export async function forgetMigration(db: Queryable, id: string): Promise<void> {
  await db.query(`DELETE FROM ${S}.backfill_progress WHERE migration_id = $1`, [id]);
  await db.query(`DELETE FROM ${S}.backfill_control WHERE migration_id = $1`, [id]);
  await db.query(`DELETE FROM ${S}.verifications WHERE migration_id = $1`, [id]);
  await db.query(`DELETE FROM ${S}.migrations WHERE id = $1`, [id]);
}

export interface RunIdentity {
  application: string;
}

export async function startRun(
  db: Queryable,
  identity: RunIdentity,
  run: { migrationId: string; phase: string; action: RunAction; details?: Record<string, unknown> },
): Promise<number> {
  const [row] = await queryRows<{ id: string }>(
    db,
    `INSERT INTO ${S}.phase_runs (migration_id, phase, action, status, host, pid, application, backend_pid, pgshift_version, details)
     VALUES ($1, $2, $3, 'running', $4, $5, $6, pg_backend_pid(), $7, $8) RETURNING id`,
    [run.migrationId, run.phase, run.action, os.hostname(), process.pid, identity.application, VERSION, JSON.stringify(run.details ?? {})],
  );
  return Number(row!.id);
}

/** A `tune`, `pause` or `resume`, recorded as a finished run of the backfill phase so `history` lists it. */
export async function recordControlRun(
  db: Queryable,
  identity: RunIdentity,
  run: { migrationId: string; action: 'tune' | 'pause' | 'resume'; details: Record<string, unknown> },
): Promise<void> {
  await db.query(
    `INSERT INTO ${S}.phase_runs (migration_id, phase, action, status, finished_at, host, pid, application, backend_pid, pgshift_version, details)
     VALUES ($1, 'backfill', $2, 'succeeded', clock_timestamp(), $3, $4, $5, pg_backend_pid(), $6, $7)`,
    [run.migrationId, run.action, os.hostname(), process.pid, identity.application, VERSION, JSON.stringify(run.details)],
  );
}

export async function finishRun(
  db: Queryable,
  runId: number,
  status: Exclude<RunStatus, 'running'>,
  details: Record<string, unknown> = {},
  error: string | null = null,
): Promise<void> {
  await db.query(
    `UPDATE ${S}.phase_runs SET status = $2, finished_at = clock_timestamp(), details = details || $3::jsonb, error = $4 WHERE id = $1`,
    [runId, status, JSON.stringify(details), error],
  );
}

/**
 * Runs left 'running' by an orchestrator that died. Only call while holding the orchestrator
 * lock: then nobody else can be running them.
 */
export async function markInterruptedRuns(db: Queryable): Promise<number> {
  const result = await db.query(
    `UPDATE ${S}.phase_runs SET status = 'interrupted', finished_at = clock_timestamp(),
            error = coalesce(error, 'the orchestrator stopped before finishing (crash, kill or lost connection)')
      WHERE status = 'running'`,
  );
  return result.rowCount ?? 0;
}

function toRun(r: Record<string, unknown>): PhaseRun {
  return {
    id: Number(r.id),
    migrationId: r.migration_id as string,
    phase: r.phase as string,
    action: r.action as RunAction,
    status: r.status as RunStatus,
    startedAt: r.started_at as Date,
    finishedAt: (r.finished_at as Date | null) ?? null,
    host: (r.host as string | null) ?? null,
    pid: (r.pid as number | null) ?? null,
    application: (r.application as string | null) ?? null,
    backendPid: (r.backend_pid as number | null) ?? null,
    pgshiftVersion: (r.pgshift_version as string | null) ?? null,
    details: (r.details as Record<string, unknown>) ?? {},
    error: (r.error as string | null) ?? null,
  };
}

export async function readRuns(db: Queryable, migrationId?: string): Promise<PhaseRun[]> {
  if ((await ledgerVersion(db)) === null) return [];
  const rows = migrationId
    ? await queryRows(db, `SELECT * FROM ${S}.phase_runs WHERE migration_id = $1 ORDER BY id`, [migrationId])
    : await queryRows(db, `SELECT * FROM ${S}.phase_runs ORDER BY id`);
  return rows.map(toRun);
}

/**
 * When every backfill task of the migration finished (server time), or null while any has not.
 * Read from the checkpoints themselves, not from the run record: those commit separately, and a
 * crash between the two must not leave a finished backfill looking unfinished.
 */
export async function backfillFinishedAt(db: Queryable, migrationId: string): Promise<Date | null> {
  const [row] = await queryRows<{ at: Date | null; all_done: boolean | null }>(
    db,
    `SELECT max(finished_at) AS at, bool_and(finished_at IS NOT NULL) AS all_done
       FROM ${S}.backfill_progress WHERE migration_id = $1`,
    [migrationId],
  );
  return row?.all_done ? row.at : null;
}

/** When the migration's backfill phase last completed, run or stamped (for migrations whose backfill has no task). */
export async function backfillPhaseDoneAt(db: Queryable, migrationId: string): Promise<Date | null> {
  const [row] = await queryRows<{ at: Date | null }>(
    db,
    `SELECT max(finished_at) AS at FROM ${S}.phase_runs
      WHERE migration_id = $1 AND phase = 'backfill' AND action IN ('apply', 'stamp') AND status = 'succeeded'`,
    [migrationId],
  );
  return row?.at ?? null;
}

/** The server's clock, so that times compared with the ledger's come from one clock. */
export async function serverNow(db: Queryable): Promise<Date> {
  const [row] = await queryRows<{ now: Date }>(db, 'SELECT clock_timestamp() AS now');
  return row!.now;
}

function toProgress(r: Record<string, unknown>): BackfillProgress {
  return {
    migrationId: r.migration_id as string,
    task: r.task as string,
    cursor: (r.cursor as string[] | null) ?? null,
    rangeStart: (r.range_start as string[] | null) ?? null,
    rangeEnd: (r.range_end as string[] | null) ?? null,
    rowsDone: Number(r.rows_done),
    batches: Number(r.batches),
    rowEstimate: r.row_estimate === null ? null : Number(r.row_estimate),
    settings: (r.settings as Record<string, unknown>) ?? {},
    batchSize: (r.batch_size as number | null) ?? null,
    rowsPerSecond: (r.rows_per_second as number | null) ?? null,
    holdReason: (r.hold_reason as string | null) ?? null,
    heldSince: (r.held_since as Date | null) ?? null,
    startedAt: r.started_at as Date,
    updatedAt: r.updated_at as Date,
    finishedAt: (r.finished_at as Date | null) ?? null,
  };
}

export async function readProgress(db: Queryable, migrationId: string, taskPrefix?: string): Promise<BackfillProgress[]> {
  if ((await ledgerVersion(db)) === null) return [];
  const rows = await queryRows(
    db,
    `SELECT * FROM ${S}.backfill_progress WHERE migration_id = $1 AND ($2::text IS NULL OR starts_with(task, $2 || '#'))
      ORDER BY length(task), task`,
    [migrationId, taskPrefix ?? null],
  );
  return rows.map(toProgress);
}

/** Creates the progress rows of a task's workers, once; a rerun keeps the existing ones. */
export async function createProgress(
  db: Queryable,
  migrationId: string,
  rows: { task: string; rangeStart: string[] | null; rangeEnd: string[] | null }[],
  rowEstimate: number | null,
  settings: Record<string, unknown>,
): Promise<void> {
  for (const r of rows) {
    await db.query(
      `INSERT INTO ${S}.backfill_progress (migration_id, task, cursor, range_start, range_end, row_estimate, settings)
       VALUES ($1, $2, $3, $3, $4, $5, $6) ON CONFLICT (migration_id, task) DO NOTHING`,
      [migrationId, r.task, JSON.stringify(r.rangeStart), JSON.stringify(r.rangeEnd), rowEstimate, JSON.stringify(settings)],
    );
  }
}

/** Records the settings a (re)started run uses, for status. */
export async function noteProgressSettings(
  db: Queryable,
  migrationId: string,
  taskPrefix: string,
  rowEstimate: number | null,
  settings: Record<string, unknown>,
): Promise<void> {
  await db.query(
    `UPDATE ${S}.backfill_progress SET settings = $3, row_estimate = coalesce($4, row_estimate)
      WHERE migration_id = $1 AND starts_with(task, $2 || '#')`,
    [migrationId, taskPrefix, JSON.stringify(settings), rowEstimate],
  );
}

/**
 * One backfill batch and its checkpoint as one statement, so the batch costs one round trip:
 * `update` (the batch's UPDATE, its values inlined) runs in a CTE and the worker's progress row
 * advances by the rows it changed. Its one row has `n` (rows updated) and `checkpointed` (0 when
 * the progress row is gone).
 */
export function renderBatchWithCheckpoint(
  update: string,
  migrationId: string,
  task: string,
  batch: { cursor: string[]; batchSize: number; rowsBefore: number; elapsedSeconds: number },
): string {
  const elapsed = Math.max(0, batch.elapsedSeconds);
  const rate = elapsed > 0 ? `(${Math.trunc(batch.rowsBefore)} + counted.n) / ${elapsed}::float8` : '0';
  return (
    `WITH batch AS (${update} RETURNING 1), counted AS (SELECT count(*)::bigint AS n FROM batch), ` +
    `progress AS (UPDATE ${S}.backfill_progress SET cursor = ${literal(JSON.stringify(batch.cursor))}::jsonb, ` +
    `rows_done = rows_done + counted.n, batches = batches + 1, batch_size = ${Math.trunc(batch.batchSize)}, ` +
    `rows_per_second = ${rate}, hold_reason = NULL, held_since = NULL, updated_at = clock_timestamp() FROM counted ` +
    `WHERE migration_id = ${literal(migrationId)} AND task = ${literal(task)} RETURNING 1) ` +
    `SELECT counted.n::int AS n, (SELECT count(*) FROM progress)::int AS checkpointed FROM counted`
  );
}

/** Why a worker is holding (null when it goes on), so `status` can show it. */
export async function noteHold(db: Queryable, migrationId: string, task: string, reason: string | null): Promise<void> {
  await db.query(
    `UPDATE ${S}.backfill_progress SET hold_reason = $3,
            held_since = CASE WHEN $3::text IS NULL THEN NULL ELSE coalesce(held_since, clock_timestamp()) END,
            updated_at = clock_timestamp()
      WHERE migration_id = $1 AND task = $2`,
    [migrationId, task, reason],
  );
}

export async function finishProgress(db: Queryable, migrationId: string, task: string): Promise<void> {
  await db.query(
    `UPDATE ${S}.backfill_progress SET finished_at = clock_timestamp(), updated_at = clock_timestamp(), hold_reason = NULL, held_since = NULL
      WHERE migration_id = $1 AND task = $2`,
    [migrationId, task],
  );
}

export interface BackfillControl {
  settings: Record<string, unknown>;
  paused: boolean;
  version: number;
  updatedAt: Date | null;
  updatedBy: string | null;
  /** Who paused it (the `pause` that is in force), whatever `tune` wrote since; null when not paused. */
  pausedBy: string | null;
}

const NO_CONTROL: BackfillControl = { settings: {}, paused: false, version: 0, updatedAt: null, updatedBy: null, pausedBy: null };

/** Live settings from `pgshift tune/pause/resume`; read before every batch. */
export async function readControl(db: Queryable, migrationId: string): Promise<BackfillControl> {
  const [r] = await queryRows(db, `SELECT * FROM ${S}.backfill_control WHERE migration_id = $1`, [migrationId]);
  if (!r) return NO_CONTROL;
  return {
    settings: r.settings as Record<string, unknown>,
    paused: r.paused as boolean,
    version: Number(r.version),
    updatedAt: r.updated_at as Date,
    updatedBy: (r.updated_by as string | null) ?? null,
    pausedBy: (r.paused_by as string | null) ?? null,
  };
}

/** Merges settings (null is a value: off, or auto for the batch size) and/or sets paused; bumps the version. */
export async function writeControl(
  db: Queryable,
  migrationId: string,
  change: { settings?: Record<string, unknown>; paused?: boolean },
  by: string,
): Promise<BackfillControl> {
  await db.query(
    `INSERT INTO ${S}.backfill_control AS c (migration_id, settings, paused, version, updated_by, paused_by)
     VALUES ($1, $2::jsonb, coalesce($3, false), 1, $4, CASE WHEN $3 THEN $4 END)
     ON CONFLICT (migration_id) DO UPDATE SET
       settings = c.settings || $2::jsonb,
       paused = coalesce($3, c.paused),
       paused_by = CASE WHEN $3 IS NULL THEN c.paused_by WHEN $3 THEN $4 END,
       version = c.version + 1,
       updated_at = clock_timestamp(),
       updated_by = $4`,
    [migrationId, JSON.stringify(change.settings ?? {}), change.paused ?? null, by],
  );
  return readControl(db, migrationId);
}

export async function recordVerification(db: Queryable, v: Omit<Verification, 'id'>): Promise<Verification> {
  const [row] = await queryRows<{ id: string }>(
    db,
    `INSERT INTO ${S}.verifications (migration_id, started_at, finished_at, rows_checked, mismatches, sample_keys, passed, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
    [
      v.migrationId,
      v.startedAt,
      v.finishedAt,
      v.rowsChecked,
      v.mismatches,
      JSON.stringify(v.sampleKeys),
      v.passed,
      JSON.stringify(v.details),
    ],
  );
  return { ...v, id: Number(row!.id) };
}

export async function latestVerification(db: Queryable, migrationId: string): Promise<Verification | null> {
  if ((await ledgerVersion(db)) === null) return null;
  const [r] = await queryRows(db, `SELECT * FROM ${S}.verifications WHERE migration_id = $1 ORDER BY id DESC LIMIT 1`, [migrationId]);
  if (!r) return null;
  return {
    id: Number(r.id),
    migrationId: r.migration_id as string,
    startedAt: r.started_at as Date,
    finishedAt: r.finished_at as Date,
    rowsChecked: Number(r.rows_checked),
    mismatches: Number(r.mismatches),
    sampleKeys: r.sample_keys as unknown[],
    passed: r.passed as boolean,
    details: r.details as Record<string, unknown>,
  };
}
