import { tableGrowthOf, type TableGrowth } from './backfill/table-growth.js';
import os from 'node:os';
import pg from 'pg';
import { DEFAULT_BACKFILL_SETTINGS, type TunableSetting, type BackfillSettings, type PhaseContext, type PhaseDetails, type ProgressEvent, type VerifySettings } from '../phases/context.js';
import { PHASE_EXECUTORS } from '../phases/index.js';
import { overridesOf } from '../phases/ddl-phase.js';
import { acquireOrchestratorLock, orchestratorRunning, type HeldLock } from './db/advisory-lock.js';
import { DEFAULT_LOCK_POLICY, type LockPolicy } from './db/lock-retry.js';
import { runSteps } from './db/run-steps.js';
import {
  ContractRefusedError,
  DriftError,
  InterruptedError,
  InvalidArgumentError,
  OrchestratorBusyError,
  PgshiftError,
  PhaseFailedError,
  MigrationNotFoundError,
  ExpectationFailedError,
  WaitTimeoutError,
  type ExpectationMismatch,
  PhaseOrderError,
  PlanChangedError,
  PlanRejectedError,
  RollbackRefusedError,
} from './errors.js';
import {
  ensureLedger,
  finishRun,
  ledgerVersion,
  forgetMigration,
  latestVerification,
  markInterruptedRuns,
  readMigrations,
  recordControlRun,
  readProgress,
  readRuns,
  startRun,
  readControl,
  writeControl,
  type BackfillControl,
  type BackfillProgress,
  type MigrationRecord,
  type PhaseRun,
  type RunIdentity,
  type Verification,
} from './ledger/ledger.js';
import { silentLogger, type Logger } from './logger.js';
import { LEDGER_VERSION } from './ledger/schema.js';
import { crossOperationProblems, handlerFor, stepsFor } from './operations/index.js';
import { objectNames } from './operations/blocks/names.js';
import { createdTablesFirst, inspectPlan } from './operations/blocks/plan-inspection.js';
import type { OperationSteps } from './plan/steps.js';
import { checksumOf } from './plan/checksum.js';
import { loadMigrations, type LoadedMigration } from './plan/load.js';
import { PHASES, type Migration, type Phase } from './plan/model.js';
import { parseMigration } from './plan/validate.js';
import { renderPlan, type RenderedPhase } from './render-plan.js';
import { loadParser } from './sql/parser.js';
import { parseExpectation, type Expectation } from './expect.js';
import { isWaitTarget, pollPause, WAIT_TARGETS, waitForState, type WaitOptions, type WaitTarget } from './wait.js';
import { factsForStamp, phasesToStamp, stampedPhases, stampPhases, type StampOptions, type StampResult } from './stamp.js';
import { runVerification } from './verify.js';

export interface PgshiftOptions {
  /** postgres:// URL; or give `connection`. */
  databaseUrl?: string;
  connection?: pg.ClientConfig;
  /** Directory of plan files (default ./migrations); ignored when `migrations` is given. */
  dir?: string;
  /** Plans given directly (programmatic use, tests). */
  migrations?: Migration[];
  log?: Logger;
  /** application_name of every connection, so DBAs can see who is running. */
  application?: string;
  lockPolicy?: Partial<LockPolicy>;
  backfill?: Partial<BackfillSettings>;
  verify?: Partial<VerifySettings>;
  /** statement_timeout of a phase's DDL transaction (it holds strong locks). Default 10 s. */
  phaseStatementTimeoutMs?: number;
  onProgress?: (event: ProgressEvent) => void;
  /** Aborting stops a backfill or verification between batches, checkpoint intact. */
  signal?: AbortSignal;
}

import type { MigrationState } from './plan/model.js';
export type { MigrationState };

export interface AdvanceOptions {
  /** Only this migration. */
  migration?: string;
  /** Run phases up to and including this one (default: just the next one). */
  to?: Phase;
  /** Validate and show what would run; change nothing. */
  dryRun?: boolean;
  /** Before contract, run a fresh verification (default true). */
  verify?: boolean;
  /**
   * Refuse (ExpectationFailedError, exit 3), changing nothing, unless each named migration is in
   * that state before this advance: `<migration>@<state>` or `{ migration, state }`.
   */
  expect?: readonly (string | Expectation)[];
  /**
   * When another orchestrator holds the lock, wait for it (polling, with `onEvent` told of each
   * try) and then proceed, instead of OrchestratorBusyError. With `to`, replicas that race at
   * start-up each return once the migration is there, and only the first runs anything.
   */
  wait?: boolean | Pick<WaitOptions, 'timeoutSeconds' | 'pollMs' | 'onEvent'>;
}

export interface PhaseOutcome {
  phase: Phase;
  seconds: number;
  details: PhaseDetails;
}

export interface AdvanceEntry {
  id: string;
  from: MigrationState;
  state: MigrationState;
  ran: PhaseOutcome[];
  /** With dryRun: the phases that would run, with their SQL. */
  wouldRun?: RenderedPhase[];
  /** Not advanced: an earlier unfinished migration touches the same columns. */
  waitingFor?: { migration: string; columns: string[] };
  next: Phase | null;
  complete: boolean;
}

export interface AdvanceResult {
  dryRun: boolean;
  migrations: AdvanceEntry[];
}

export interface MigrationStatus {
  id: string;
  description: string | null;
  state: MigrationState;
  next: Phase | null;
  complete: boolean;
  /** Where the plan comes from: a file, or only the ledger (file deleted). */
  source: string;
  /** False when the file changed after phases ran (advance will refuse). */
  checksumMatches: boolean | null;
  backfill: BackfillProgress[];
  /** Backfill progress over all workers, with rate, ETA and the live settings. */
  backfillSummary: BackfillSummary | null;
  verification: Verification | null;
  lastRun: PhaseRun | null;
  /** Phases recorded done by `stamp` (done outside pgshift), not run by it. */
  stamped: Phase[];
  /** Heap and index growth of the table(s) over the last finished backfill run (src/backfill/table-growth.ts). */
  tableGrowth: TableGrowth[];
}

export interface BackfillSummary {
  rowsDone: number;
  rowEstimate: number | null;
  percent: number | null;
  rowsPerSecond: number | null;
  etaSeconds: number | null;
  workers: number;
  finished: boolean;
  batchSize: number | null;
  holdReason: string | null;
  heldSince: Date | null;
  /** Settings the run started with. */
  settings: Record<string, unknown>;
  /** Live overrides from `pgshift tune/pause`. */
  control: BackfillControl;
}

export type TuneSettings = Partial<Pick<BackfillSettings, TunableSetting>>;

/** `active`: a backfill run is in progress now; otherwise rates, ETA and holds are history, not shown. */
function summarize(rows: BackfillProgress[], control: BackfillControl, active: boolean): BackfillSummary | null {
  if (!rows.length) return null;
  const rowsDone = rows.reduce((n, r) => n + r.rowsDone, 0);
  const finished = rows.every((r) => r.finishedAt !== null);
  const running = active ? rows.filter((r) => !r.finishedAt) : [];
  const rate = running.length ? running.reduce((n, r) => n + (r.rowsPerSecond ?? 0), 0) : null;
  const estimate = rows[0]!.rowEstimate;
  const held = running.find((r) => r.holdReason);
  return {
    rowsDone,
    rowEstimate: estimate,
    percent: finished ? 100 : estimate ? Math.min(99, Math.floor((100 * rowsDone) / Math.max(1, estimate))) : null,
    rowsPerSecond: rate === null ? null : Math.round(rate),
    // A held or paused backfill has no ETA: its last rate says nothing about when it goes on.
    etaSeconds: finished ? 0 : held || control.paused ? null : rate && estimate ? Math.max(0, Math.round((estimate - rowsDone) / rate)) : null,
    workers: rows.length,
    finished,
    batchSize: running.length ? Math.round(running.reduce((n, r) => n + (r.batchSize ?? 0), 0) / running.length) : null,
    holdReason: held?.holdReason ?? null,
    heldSince: held?.heldSince ?? null,
    settings: rows[0]!.settings,
    control,
  };
}

export interface RollbackResult {
  id: string;
  from: MigrationState;
  state: 'pending';
  statements: number;
}

interface Target {
  migration: Migration;
  checksum: string;
  source: string;
  record: MigrationRecord | null;
}

function validateTune(settings: Record<string, unknown>): void {
  const problems: string[] = [];
  const positiveInt = (k: string, v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v > 0) || problems.push(`${k} must be a positive integer`);
  for (const [k, v] of Object.entries(settings)) {
    if (v === undefined) continue;
    if (k === 'batchSize' || k === 'maxRate' || k === 'maxLagMs' || k === 'maxLagBytes' || k === 'maxAppWaitMs') {
      if (v !== null) positiveInt(k, v);
    } else if (k === 'targetMs') positiveInt(k, v);
    else if (k === 'pauseRatio') {
      if (typeof v !== 'number' || !(v >= 0) || v > 1000) problems.push('pauseRatio must be a number from 0 to 1000');
    } else problems.push(`${k} cannot be tuned live`);
  }
  if (!Object.values(settings).some((v) => v !== undefined)) problems.push('nothing to change: give at least one setting');
  if (problems.length) throw new InvalidArgumentError(problems.join('; '));
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function nextPhase(state: MigrationState): Phase | null {
  if (state === 'pending') return PHASES[0];
  return PHASES[PHASES.indexOf(state) + 1] ?? null;
}

function phasesBetween(state: MigrationState, to: Phase | undefined): Phase[] {
  const from = state === 'pending' ? 0 : PHASES.indexOf(state) + 1;
  const end = to ? PHASES.indexOf(to) + 1 : from + 1;
  return PHASES.slice(from, Math.max(from, end));
}

/** The orchestrator: loads plans, holds the one-per-database lock, runs phases, keeps the ledger. */
export class Pgshift {
  private readonly log: Logger;
  private readonly config: pg.ClientConfig;
  private pool: pg.Pool | null = null;
  private readonly lockPolicy: LockPolicy;
  private readonly backfillSettings: BackfillSettings;
  private readonly verifySettings: VerifySettings;
  private readonly identity: RunIdentity;
  private runSignal: AbortSignal | undefined;

  constructor(private readonly options: PgshiftOptions) {
    this.log = options.log ?? silentLogger();
    const application = options.application ?? 'pgshift';
    this.identity = { application };
    if (!options.databaseUrl && !options.connection)
      throw new InvalidArgumentError('no database given: pass --database-url or set DATABASE_URL');
    this.config = { ...options.connection, connectionString: options.databaseUrl ?? options.connection?.connectionString, application_name: application };
    this.lockPolicy = { ...DEFAULT_LOCK_POLICY, ...options.lockPolicy };
    this.backfillSettings = { ...DEFAULT_BACKFILL_SETTINGS, ...definedOnly(options.backfill ?? {}) };
    this.verifySettings = { chunkSize: 50_000, sampleSize: 20, ...options.verify };
    const b = this.backfillSettings;
    if (b.batchSize !== null && (!Number.isInteger(b.batchSize) || b.batchSize < 1))
      throw new InvalidArgumentError(`batch size must be a positive integer, got ${b.batchSize}`);
    if (!Number.isInteger(b.workers) || b.workers < 1) throw new InvalidArgumentError(`workers must be a positive integer, got ${b.workers}`);
    if (this.lockPolicy.attempts < 1) throw new InvalidArgumentError('lock retry attempts must be at least 1');
  }

  private db(): pg.Pool {
    if (!this.pool) {
      // A connection per backfill worker, plus the ledger, signals and verification.
      this.pool = new pg.Pool({ ...this.config, max: Math.max(4, this.backfillSettings.workers + 3) });
      // An idle client's error (server restart) must not crash the process; the next query reports it.
      this.pool.on('error', (error) => this.log.warn({ err: error }, 'idle database connection failed'));
    }
    return this.pool;
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    await pool?.end();
  }

  private async loadPlans(): Promise<LoadedMigration[]> {
    await loadParser();
    if (this.options.migrations) {
      return this.options.migrations
        .map((m) => parseMigration(m, `migration ${String((m as { id?: unknown }).id)}`))
        .map((migration) => ({ migration, checksum: checksumOf(migration), source: 'api' }))
        .sort((a, b) => (a.migration.id < b.migration.id ? -1 : 1));
    }
    return loadMigrations(this.options.dir ?? 'migrations');
  }

  /** Plans on disk merged with migrations only the ledger still knows. */
  private async targets(only?: string): Promise<Target[]> {
    const [loaded, records] = await Promise.all([this.loadPlans(), readMigrations(this.db())]);
    const byId = new Map<string, Target>();
    for (const l of loaded) byId.set(l.migration.id, { ...l, record: records.get(l.migration.id) ?? null });
    for (const r of records.values()) {
      if (!byId.has(r.id)) byId.set(r.id, { migration: r.plan, checksum: r.checksum, source: 'ledger', record: r });
    }
    const all = [...byId.values()].sort((a, b) => (a.migration.id < b.migration.id ? -1 : 1));
    if (only === undefined) return all;
    const found = all.find((t) => t.migration.id === only);
    if (!found) throw new MigrationNotFoundError(only, all.map((t) => t.migration.id));
    return [found];
  }

  /**
   * A pending migration waits while an earlier (by id) unfinished migration touches any of the
   * same columns: renaming a→b then b→c must not interleave, or the second would read the first's
   * half-built column as its source of truth.
   */
  private waits(all: Target[]): Map<string, { migration: string; columns: string[] }> {
    const held = new Map<string, string>();
    const waits = new Map<string, { migration: string; columns: string[] }>();
    for (const t of all) {
      const plan = t.record?.plan ?? t.migration;
      const columns = plan.operations.flatMap((op) =>
        handlerFor(op).columns(op).map((c) => `${c.schema}.${c.table}.${c.column}`),
      );
      const state = this.stateOf(t);
      if (state === 'pending') {
        const clash = columns.filter((c) => held.has(c));
        if (clash.length) waits.set(t.migration.id, { migration: held.get(clash[0]!)!, columns: [...new Set(clash)] });
      }
      if (state !== 'contract') for (const c of columns) if (!held.has(c)) held.set(c, t.migration.id);
    }
    return waits;
  }

  private stateOf(t: Target): MigrationState {
    return t.record?.state ?? 'pending';
  }

  /** Facts for a migration: recorded at its expand, or read live (and every problem reported). */
  private async factsOf(t: Target): Promise<unknown[]> {
    if (t.record) return t.record.facts;
    const { facts, problems } = await inspectPlan(this.db(), t.migration);
    if (!problems.length) problems.push(...crossOperationProblems(t.migration.operations, facts));
    if (problems.length) throw new PlanRejectedError(t.migration.id, problems);
    return facts;
  }

  private stepsOf(t: Target, facts: unknown[]): OperationSteps[] {
    const plan = t.record?.plan ?? t.migration;
    return createdTablesFirst(plan.operations, plan.operations.map((op, i) => stepsFor(plan.id, op, i, facts[i])));
  }

  private async checkDrift(t: Target): Promise<void> {
    if (!t.record) return;
    const completed = PHASES.slice(0, PHASES.indexOf(t.record.state) + 1);
    const problems: string[] = [];
    for (const [i, op] of t.record.plan.operations.entries()) {
      problems.push(...(await handlerFor(op).drift(this.db(), op, t.record.facts[i], objectNames(t.record.id, i), completed)));
    }
    if (problems.length) throw new DriftError(t.migration.id, problems);
  }

  private checkUnchanged(t: Target): void {
    if (t.record && t.source !== 'ledger' && t.record.checksum !== t.checksum)
      throw new PlanChangedError(t.migration.id, t.record.checksum, t.checksum, t.record.state);
  }

  private context(t: Target, facts: unknown[], steps: OperationSteps[]): PhaseContext {
    return {
      pool: this.db(),
      log: this.log.child({ migration: t.migration.id }),
      identity: this.identity,
      lockPolicy: this.lockPolicy,
      phaseStatementTimeoutMs: this.options.phaseStatementTimeoutMs ?? 10_000,
      backfill: this.backfillSettings,
      verify: this.verifySettings,
      migration: t.record?.plan ?? t.migration,
      checksum: t.record?.checksum ?? t.checksum,
      facts,
      steps,
      onProgress: this.options.onProgress,
      signal: this.runSignal ?? this.options.signal,
    };
  }

  /**
   * Runs `body` holding the orchestrator lock. An existing ledger is upgraded and runs left by a
   * dead orchestrator are marked interrupted; a missing ledger is created only by `createLedger`,
   * which advance calls once the plans have passed validation (invalid input changes nothing).
   */
  /** The orchestrator lock; with `wait`, retried while another orchestrator holds it. */
  private async acquire(wait: AdvanceOptions['wait']): Promise<HeldLock> {
    if (!wait) return acquireOrchestratorLock(this.config);
    const options = wait === true ? {} : wait;
    const started = performance.now();
    for (;;) {
      try {
        return await acquireOrchestratorLock(this.config);
      } catch (error) {
        if (!(error instanceof OrchestratorBusyError)) throw error;
        const seconds = Math.round((performance.now() - started) / 100) / 10;
        if (options.timeoutSeconds !== undefined && seconds >= options.timeoutSeconds) throw new WaitTimeoutError(null, 'the orchestrator lock', null, seconds);
        if (this.options.signal?.aborted) throw new InterruptedError('(all)', 'wait', null);
        options.onEvent?.({ kind: 'busy', holderPid: error.holderPid, holderApplication: error.holderApplication, elapsedSeconds: seconds });
        await pollPause(options.pollMs ?? 500, this.options.signal);
      }
    }
  }

  private async exclusive<T>(body: (createLedger: () => Promise<void>) => Promise<T>, wait?: AdvanceOptions['wait']): Promise<T> {
    const lock = await this.acquire(wait);
    if (lock.shortOfProbes) this.log.warn({ reason: lock.shortOfProbes }, 'the check for a pooled connection ran with fewer probes than it wanted');
    const onLost = () => this.log.error({ err: lock.lost.reason }, 'lost the orchestrator lock connection; stopping after the current batch');
    lock.lost.addEventListener('abort', onLost);
    // Long phases stop between batches when the user interrupts or the lock is gone.
    this.runSignal = this.options.signal ? AbortSignal.any([this.options.signal, lock.lost]) : lock.lost;
    let failed = false;
    try {
      if ((await ledgerVersion(lock.client)) !== null) {
        await ensureLedger(lock.client);
        const stale = await markInterruptedRuns(lock.client);
        if (stale) this.log.warn({ runs: stale }, 'found runs left by an orchestrator that stopped; marked interrupted');
      }
      return await body(() => ensureLedger(lock.client));
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      this.runSignal = this.options.signal;
      lock.lost.removeEventListener('abort', onLost);
      // An unlock that released nothing fails the run (LockNotReleasedError); after a failed run it is logged beside that failure.
      await lock.release().catch((error: unknown) => {
        if (!failed) throw error;
        this.log.error({ err: error }, 'the orchestrator lock was not released');
      });
    }
  }

  /**
   * Runs the next phase of each unfinished migration (or of one), or every phase up to `to`.
   * Everything is checked (plan, checksum, catalog, drift) before anything changes.
   */
  async advance(options: AdvanceOptions = {}): Promise<AdvanceResult> {
    const expected = (options.expect ?? []).map(parseExpectation);
    const run = async (createLedger: () => Promise<void>): Promise<AdvanceResult> => {
      const all = await this.targets();
      if (options.migration && !all.some((t) => t.migration.id === options.migration))
        throw new MigrationNotFoundError(options.migration, all.map((t) => t.migration.id));
      this.checkExpectations(all, expected);
      const waits = this.waits(all);
      const work: { t: Target; phases: Phase[]; facts: unknown[]; steps: OperationSteps[] }[] = [];
      const waiting: AdvanceEntry[] = [];
      for (const t of all) {
        if (options.migration ? t.migration.id !== options.migration : t.source === 'ledger') continue;
        this.checkUnchanged(t);
        const phases = phasesBetween(this.stateOf(t), options.to);
        if (!phases.length) continue;
        const wait = waits.get(t.migration.id);
        if (wait) {
          if (options.migration)
            throw new PhaseOrderError(
              t.migration.id,
              `waits for ${wait.migration}, which is not finished and touches the same column(s): ${wait.columns.join(', ')}`,
            );
          const state = this.stateOf(t);
          waiting.push({ id: t.migration.id, from: state, state, ran: [], next: nextPhase(state), complete: false, waitingFor: wait });
          continue;
        }
        const facts = await this.factsOf(t);
        await this.checkDrift(t);
        work.push({ t, phases, facts, steps: this.stepsOf(t, facts) });
      }
      const entries: AdvanceEntry[] = [];
      if (work.length && !options.dryRun) await createLedger();
      for (const { t, phases, facts, steps } of work) {
        const from = this.stateOf(t);
        if (options.dryRun) {
          const rendered = renderPlan(steps).filter((p) => (phases as string[]).includes(p.phase));
          const last = phases[phases.length - 1] as Phase;
          entries.push({ id: t.migration.id, from, state: from, ran: [], wouldRun: rendered, next: nextPhase(last), complete: false });
          continue;
        }
        const entry: AdvanceEntry = { id: t.migration.id, from, state: from, ran: [], next: nextPhase(from), complete: false };
        entries.push(entry);
        const ctx = this.context(t, facts, steps);
        for (const phase of phases) {
          entry.ran.push(await this.runPhase(ctx, phase, options));
          entry.state = phase;
          entry.next = nextPhase(phase);
          entry.complete = entry.next === null;
        }
      }
      return { dryRun: Boolean(options.dryRun), migrations: [...entries, ...waiting].sort((a, b) => (a.id < b.id ? -1 : 1)) };
    };
    return options.dryRun ? run(async () => undefined) : this.exclusive(run, options.wait);
  }

  /**
   * Waits until `migration` reaches `target` (a phase, or `verified`), polling the ledger without
   * the lock: what `pgshift wait` runs. Throws WaitRunFailedError or WaitTimeoutError (exit 1),
   * WaitUnreachableError (exit 3).
   */
  async waitFor(migration: string, target: WaitTarget, options: WaitOptions = {}): Promise<{ migration: string; target: WaitTarget; state: MigrationState; seconds: number }> {
    if (!isWaitTarget(target)) throw new InvalidArgumentError(`cannot wait for ${JSON.stringify(target)}: use ${WAIT_TARGETS.join(', ')}`);
    if (options.timeoutSeconds !== undefined && !(options.timeoutSeconds >= 0)) throw new InvalidArgumentError('the timeout must be a number of seconds, 0 or more');
    await this.targets(migration);
    const reached = await waitForState(this.db(), migration, target, { signal: this.options.signal, ...options });
    return { migration, target, ...reached };
  }

  /** The pipeline's assumption about where each named migration stands, read under the lock. */
  private checkExpectations(all: Target[], expected: readonly Expectation[]): void {
    const mismatches: ExpectationMismatch[] = [];
    for (const e of expected) {
      const t = all.find((x) => x.migration.id === e.migration);
      if (!t) throw new MigrationNotFoundError(e.migration, all.map((x) => x.migration.id));
      const actual = this.stateOf(t);
      if (actual !== e.state) mismatches.push({ migration: e.migration, expected: e.state, actual });
    }
    if (mismatches.length) throw new ExpectationFailedError(mismatches);
  }

  private async runPhase(ctx: PhaseContext, phase: Phase, options: AdvanceOptions): Promise<PhaseOutcome> {
    const id = ctx.migration.id;
    // Stopped (signal, or the lock connection lost): start no further phase.
    if (ctx.signal?.aborted) throw new InterruptedError(id, phase, null);
    const runId = await startRun(ctx.pool, this.identity, { migrationId: id, phase, action: 'apply' });
    ctx.log.info({ phase }, `${phase}: starting`);
    const t0 = performance.now();
    try {
      const details = await PHASE_EXECUTORS[phase](ctx, { verify: options.verify ?? true });
      const seconds = Number(((performance.now() - t0) / 1000).toFixed(3));
      await finishRun(ctx.pool, runId, 'succeeded', { ...details, seconds });
      ctx.log.info({ phase, seconds }, `${phase}: done`);
      return { phase, seconds, details };
    } catch (error) {
      const status = error instanceof ContractRefusedError ? 'refused' : error instanceof InterruptedError ? 'interrupted' : 'failed';
      await finishRun(ctx.pool, runId, status, {}, (error as Error).message).catch((e: unknown) =>
        ctx.log.error({ err: e }, 'could not record the failed run in the ledger'),
      );
      throw error instanceof PgshiftError ? error : new PhaseFailedError(id, phase, error);
    }
  }

  /** Verifies migrations whose backfill has finished (or the one named) and records the evidence. */
  async verify(migration?: string): Promise<Verification[]> {
    return this.exclusive(async () => {
      const all = await this.targets(migration);
      const targets = all.filter((t) => t.record?.state === 'backfill');
      if (migration && !targets.length) {
        const state = all[0] ? this.stateOf(all[0]) : 'pending';
        throw new PhaseOrderError(
          migration,
          state === 'contract' ? 'already contracted; the old shape is gone, nothing to verify' : `nothing to verify before the backfill has finished (state: ${state})`,
        );
      }
      const results: Verification[] = [];
      for (const t of targets) {
        this.checkUnchanged(t);
        const facts = await this.factsOf(t);
        results.push(await runVerification(this.context(t, facts, this.stepsOf(t, facts))));
      }
      return results;
    });
  }

  /** Undoes every phase of a migration that has not contracted; the table is as before expand. */
  async rollback(migration: string): Promise<RollbackResult> {
    return this.exclusive(async () => {
      const [t] = await this.targets(migration);
      if (!t) throw new MigrationNotFoundError(migration, []);
      const from = this.stateOf(t);
      if (!t.record) return { id: migration, from, state: 'pending', statements: 0 };
      if (from === 'contract')
        throw new RollbackRefusedError(
          migration,
          'contract has run, and what it dropped or replaced (an old column, a constraint, an index) cannot be restored from the ledger. Write a new migration to change it back.',
        );
      const facts = t.record.facts;
      const steps = this.stepsOf(t, facts);
      const ctx = this.context(t, facts, steps);
      const runId = await startRun(ctx.pool, this.identity, { migrationId: migration, phase: from, action: 'rollback' });
      try {
        const undo = [...steps].reverse().flatMap((s) => s.rollback);
        const result = await runSteps(ctx, undo, (c) => forgetMigration(c, migration));
        await finishRun(ctx.pool, runId, 'succeeded', { statements: result.ran.length, ...overridesOf(undo) });
        ctx.log.info({ from }, 'rolled back; the migration is pending again');
        return { id: migration, from, state: 'pending', statements: result.ran.length };
      } catch (error) {
        await finishRun(ctx.pool, runId, 'failed', {}, (error as Error).message).catch(() => undefined);
        throw error;
      }
    });
  }

  async status(migration?: string): Promise<MigrationStatus[]> {
    const out: MigrationStatus[] = [];
    // A run recorded as running is only live if an orchestrator holds the lock (not after a kill).
    const live = await orchestratorRunning(this.db());
    for (const t of await this.targets(migration)) {
      const state = this.stateOf(t);
      const runs = await readRuns(this.db(), t.migration.id);
      const progress = await readProgress(this.db(), t.migration.id);
      const control = (await ledgerVersion(this.db())) === LEDGER_VERSION ? await readControl(this.db(), t.migration.id) : { settings: {}, paused: false, version: 0, updatedAt: null, updatedBy: null, pausedBy: null };
      out.push({
        id: t.migration.id,
        description: t.migration.description ?? null,
        state,
        next: nextPhase(state),
        complete: state === 'contract',
        source: t.source,
        checksumMatches: t.record && t.source !== 'ledger' ? t.record.checksum === t.checksum : null,
        backfill: progress,
        backfillSummary: summarize(progress, control, live && runs.some((r) => r.phase === 'backfill' && r.action === 'apply' && r.status === 'running')),
        verification: await latestVerification(this.db(), t.migration.id),
        // The run that ended last: contract's own verification starts after contract does, but ends before it.
        lastRun: runs.reduce<PhaseRun | null>((last, r) => (!last || +(r.finishedAt ?? r.startedAt) >= +(last.finishedAt ?? last.startedAt) ? r : last), null),
        stamped: state === 'pending' ? [] : stampedPhases(runs),
        tableGrowth: tableGrowthOf(runs),
      });
    }
    return out;
  }

  /**
   * Changes backfill settings of a migration live: a running backfill applies them before its
   * next batch. No orchestrator lock (that one is held by the running backfill); only the
   * migration's control row is written. null means none: no rate cap, no lag check, adaptive size.
   */
  async tune(migration: string, settings: { [K in keyof TuneSettings]: TuneSettings[K] | null }): Promise<BackfillControl> {
    validateTune(settings);
    return this.control(migration, { settings });
  }

  /** Holds a running (or the next) backfill of the migration before its next batch. */
  async pause(migration: string): Promise<BackfillControl> {
    return this.control(migration, { paused: true });
  }

  async resume(migration: string): Promise<BackfillControl> {
    return this.control(migration, { paused: false });
  }

  private async control(migration: string, change: { settings?: Record<string, unknown>; paused?: boolean }): Promise<BackfillControl> {
    const [t] = await this.targets(migration);
    if (!t) throw new MigrationNotFoundError(migration, []);
    if (this.stateOf(t) === 'contract') throw new PhaseOrderError(migration, 'already contracted; there is no backfill to control');
    if ((await ledgerVersion(this.db())) !== LEDGER_VERSION) {
      // Create or upgrade the ledger; a running orchestrator would already have done so.
      await this.exclusive((createLedger) => createLedger());
    }
    const control = await writeControl(this.db(), migration, change, `${this.identity.application} ${os.hostname()}:${process.pid}`);
    const action = change.paused === undefined ? 'tune' : change.paused ? 'pause' : 'resume';
    await recordControlRun(this.db(), this.identity, { migrationId: migration, action, details: { ...change, version: control.version } });
    this.log.info({ migration, settings: control.settings, paused: control.paused }, 'backfill control updated');
    return control;
  }

  /**
   * Records phases done outside pgshift (adopting a database changed by hand) as done without
   * running them, in order, after checking the database shows what they leave (src/stamp.ts).
   */
  async stamp(migration: string, options: StampOptions): Promise<StampResult> {
    return this.exclusive(async (createLedger) => {
      const all = await this.targets();
      const t = all.find((x) => x.migration.id === migration);
      if (!t) throw new MigrationNotFoundError(migration, all.map((x) => x.migration.id));
      this.checkUnchanged(t);
      const from = this.stateOf(t);
      const phases = phasesToStamp(migration, from, options);
      const wait = this.waits(all).get(migration);
      if (wait)
        throw new PhaseOrderError(migration, `waits for ${wait.migration}, which is not finished and touches the same column(s): ${wait.columns.join(', ')}`);
      const { facts, notes } = t.record ? { facts: t.record.facts, notes: [] } : await factsForStamp(this.db(), t.migration);
      await this.checkDrift(t);
      await createLedger();
      return stampPhases(this.context(t, facts, this.stepsOf(t, facts)), from, phases, notes);
    });
  }

  async history(migration?: string): Promise<PhaseRun[]> {
    return readRuns(this.db(), migration);
  }

  /** The exact SQL of each phase (and of rollback), with lock levels. Reads the catalog; writes nothing. */
  async plan(migration: string, phase?: Phase | 'rollback' | 'verify'): Promise<{ id: string; state: MigrationState; phases: RenderedPhase[] }> {
    const [t] = await this.targets(migration);
    if (!t) throw new MigrationNotFoundError(migration, []);
    const facts = await this.factsOf(t);
    const phases = renderPlan(this.stepsOf(t, facts)).filter((p) => !phase || p.phase === phase);
    return { id: t.migration.id, state: this.stateOf(t), phases };
  }
}
