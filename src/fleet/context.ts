import pLimit from 'p-limit';
import type { BackfillSettings, ProgressEvent, VerifySettings } from '../../phases/context.js';
import type { LockPolicy } from '../db/lock-retry.js';
import { ExitCode, InterruptedError, OrchestratorBusyError, PgshiftError, driverFacts, isSqlstate } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { Pgshift, type MigrationStatus } from '../orchestrator.js';
import { loadMigrations } from '../plan/load.js';
import { PHASES, type Migration, type MigrationState, type Phase } from '../plan/model.js';
import { inShard, redactUrl, scrubber, type FleetTarget, type Shard } from './targets.js';

export type FailurePolicy = 'halt' | 'continue';
export const FAILURE_POLICIES: readonly FailurePolicy[] = ['halt', 'continue'];

/** What every fleet command takes: the fleet, the plans, and how each target's Pgshift is opened. */
export interface FleetOptions {
  /** The whole fleet; `shard` picks the part this process acts on (lockstep reads all of it). */
  targets: readonly FleetTarget[];
  shard?: Shard;
  /** Directory of plan files (default ./migrations), read once for every target. */
  dir?: string;
  migrations?: Migration[];
  /** Targets worked on at once (default 4). */
  concurrency?: number;
  /** halt (default): after a failure start nothing new and stop running backfills after their batch; continue: report and go on. */
  onFailure?: FailurePolicy;
  log?: Logger;
  application?: string;
  lockPolicy?: Partial<LockPolicy>;
  backfill?: Partial<BackfillSettings>;
  verify?: Partial<VerifySettings>;
  /** Aborting stops every target's backfill between batches. */
  signal?: AbortSignal;
  onEvent?: (event: FleetEvent) => void;
}

/** Error facts of one target, password-free. */
export interface FleetTargetError {
  code: string;
  message: string;
  sqlstate?: string;
}

/** Progress of a fleet command, for a live table or log lines. */
export type FleetEvent =
  | { kind: 'step'; migration: string; phase: Phase; waves: string[][]; upToDate: string[] }
  | { kind: 'wave'; phase: Phase; index: number; targets: string[]; status: 'started' | 'succeeded' | 'failed' | 'not-started' }
  | { kind: 'target-start'; name: string; action: string; phase: Phase | null; state: MigrationState | null }
  | { kind: 'target-progress'; name: string; progress: ProgressEvent }
  | {
      kind: 'target-done';
      name: string;
      action: string;
      result: string;
      state: MigrationState | null;
      seconds: number;
      error?: FleetTargetError;
    }
  | { kind: 'halt'; cause: string; stopping: string[] };

const UNREACHABLE_SQLSTATE = /^(08|28|3D000|57P03)/;

/**
 * A failure to reach the database at all (refused, no such host or database, auth), not a failure
 * of pgshift's work. pgshift's own errors carry the driver's facts as fields (PhaseFailedError);
 * anything else is the driver's error, whose string `code` is a SQLSTATE or a network error.
 */
export function isUnreachable(error: unknown): boolean {
  const { sqlstate, networkError } = facts(error);
  if (networkError) return true;
  if (sqlstate && UNREACHABLE_SQLSTATE.test(sqlstate)) return true;
  return !(error instanceof PgshiftError) && error instanceof Error && /^Connection terminated|timeout expired/i.test(error.message);
}

function facts(error: unknown): { sqlstate?: string; networkError?: string } {
  if (error instanceof PgshiftError) {
    const own = error as { sqlstate?: unknown; networkError?: unknown };
    return {
      ...(typeof own.sqlstate === 'string' ? { sqlstate: own.sqlstate } : {}),
      ...(typeof own.networkError === 'string' ? { networkError: own.networkError } : {}),
    };
  }
  return driverFacts(error) as { sqlstate?: string; networkError?: string };
}

export const STATE_ORDER: readonly MigrationState[] = ['pending', ...PHASES];
export const rank = (state: MigrationState) => STATE_ORDER.indexOf(state);

/** The shared machinery: plans read once, one Pgshift per target, errors turned into password-free facts. */
export class FleetRun {
  readonly all: readonly FleetTarget[];
  readonly acting: readonly FleetTarget[];
  readonly concurrency: number;
  readonly policy: FailurePolicy;
  readonly log: Logger;
  readonly scrub: (text: string) => string;
  private plans: Migration[] | null = null;

  constructor(readonly options: FleetOptions) {
    this.all = options.targets;
    this.acting = inShard(options.targets, options.shard);
    this.concurrency = options.concurrency ?? 4;
    this.policy = options.onFailure ?? 'halt';
    this.log = options.log ?? silentLogger();
    this.scrub = scrubber(options.targets);
  }

  async migrations(): Promise<Migration[]> {
    this.plans ??= this.options.migrations ?? (await loadMigrations(this.options.dir ?? 'migrations')).map((l) => l.migration);
    return this.plans;
  }

  emit(event: FleetEvent): void {
    this.options.onEvent?.(event);
  }

  url(target: FleetTarget): string {
    return redactUrl(target.url);
  }

  async open(target: FleetTarget, extra: { signal?: AbortSignal; onProgress?: (e: ProgressEvent) => void } = {}): Promise<Pgshift> {
    return new Pgshift({
      databaseUrl: target.url,
      migrations: await this.migrations(),
      log: this.log.child({ target: target.name }),
      application: this.options.application ?? 'pgshift fleet',
      lockPolicy: this.options.lockPolicy,
      // A target's own standby (targets file) measures its replica lag.
      backfill: target.replicaUrl ? { ...this.options.backfill, replicaUrl: target.replicaUrl } : this.options.backfill,
      verify: this.options.verify,
      signal: extra.signal ?? this.options.signal,
      onProgress: extra.onProgress,
    });
  }

  /** Runs `body` with the target's Pgshift, always closing it. */
  async with<T>(target: FleetTarget, body: (pg: Pgshift) => Promise<T>, extra?: Parameters<FleetRun['open']>[1]): Promise<T> {
    const pg = await this.open(target, extra);
    try {
      return await body(pg);
    } finally {
      await pg.close().catch(() => undefined);
    }
  }

  /** Password-free facts of an error. */
  errorOf(error: unknown): FleetTargetError {
    const { sqlstate, networkError } = facts(error);
    const code = error instanceof PgshiftError ? error.code : isUnreachable(error) ? 'unreachable' : 'failure';
    const message = this.scrub(error instanceof Error ? error.message : String(error));
    return {
      code,
      message: networkError && !message.includes(networkError) ? `${message} (${networkError})` : message,
      ...(isSqlstate(sqlstate) ? { sqlstate } : {}),
    };
  }

  /** The result word for a failed target: busy, unreachable, refused (a gate, exit 3) or failed. */
  outcomeOf(error: unknown): 'busy' | 'unreachable' | 'refused' | 'failed' {
    if (error instanceof OrchestratorBusyError) return 'busy';
    if (!(error instanceof InterruptedError) && isUnreachable(error)) return 'unreachable';
    if (error instanceof PgshiftError && error.exitCode === ExitCode.refused) return 'refused';
    return 'failed';
  }

  /** Reads each target's status (every migration), at most `concurrency` at once (at least 8: reads are light). */
  async statuses(targets: readonly FleetTarget[], migration?: string): Promise<Map<string, MigrationStatus[] | { error: unknown }>> {
    const limit = pLimit(Math.max(8, this.concurrency));
    const out = new Map<string, MigrationStatus[] | { error: unknown }>();
    await Promise.all(
      targets.map((t) =>
        limit(async () => {
          try {
            out.set(t.name, await this.with(t, (pg) => pg.status(migration)));
          } catch (error) {
            out.set(t.name, { error });
          }
        }),
      ),
    );
    return out;
  }
}

/** Exit code of a set of per-target results: any failure 1, else any refusal 3, else any busy 4, else 0. */
export function exitCodeOfResults(results: readonly string[], failed: readonly string[] = ['failed', 'unreachable', 'timeout']): ExitCode {
  if (results.some((r) => failed.includes(r))) return ExitCode.failure;
  if (results.some((r) => r === 'refused')) return ExitCode.refused;
  if (results.some((r) => r === 'busy')) return ExitCode.busy;
  return ExitCode.ok;
}

export function countBy(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

export function seconds(since: number): number {
  return Math.round((performance.now() - since) / 10) / 100;
}
