/**
 * One error class per condition, with the facts as fields. `exitCode` is the CLI contract:
 * 1 failure, 2 invalid input, 3 refused by a gate, 4 busy.
 */
export const ExitCode = {
  ok: 0,
  failure: 1,
  invalidInput: 2,
  refused: 3,
  busy: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export abstract class PgshiftError extends Error {
  abstract readonly exitCode: ExitCode;
  /** Stable machine-readable name of the condition, printed in --json output. */
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
  /** Facts for logs and --json output. */
  toJSON(): Record<string, unknown> {
    const facts: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this)) if (!['cause', 'name', 'code', 'exitCode'].includes(k)) facts[k] = v;
    return { error: this.code, message: this.message, ...facts };
  }
}

export interface PlanProblem {
  /** Where in the plan, e.g. `operations[0].to`; empty for the plan as a whole. */
  path: string;
  message: string;
}

export function formatProblems(problems: readonly PlanProblem[]): string {
  return problems.map((p) => `  - ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n');
}

/** The plan file itself is malformed: reported with every problem at once. */
export class PlanInvalidError extends PgshiftError {
  readonly exitCode = ExitCode.invalidInput;
  readonly code = 'plan_invalid';
  constructor(
    readonly source: string,
    readonly problems: readonly PlanProblem[],
  ) {
    super(`invalid plan ${source}:\n${formatProblems(problems)}`);
  }
}

/** The plan is well-formed but does not fit the live database. */
export class PlanRejectedError extends PgshiftError {
  readonly exitCode = ExitCode.invalidInput;
  readonly code = 'plan_rejected';
  constructor(
    readonly migration: string,
    readonly problems: readonly PlanProblem[],
    /** Offline (`plan --schema-file`): `schema file <path>`; otherwise the live database. */
    readonly against?: string,
  ) {
    super(`migration ${migration} cannot run against ${against ?? 'this database'}:\n${formatProblems(problems)}`);
  }
}

export class PlanChangedError extends PgshiftError {
  readonly exitCode = ExitCode.invalidInput;
  readonly code = 'plan_changed';
  constructor(
    readonly migration: string,
    readonly recordedChecksum: string,
    readonly currentChecksum: string,
    readonly phase: string,
  ) {
    super(
      `migration ${migration} was changed after its ${phase} phase ran ` +
        `(recorded checksum ${recordedChecksum.slice(0, 12)}, file now ${currentChecksum.slice(0, 12)}). ` +
        `Restore the original plan, or roll it back first and then edit it, or write a new migration.`,
    );
  }
}

export class MigrationNotFoundError extends PgshiftError {
  readonly exitCode = ExitCode.invalidInput;
  readonly code = 'migration_not_found';
  constructor(
    readonly migration: string,
    readonly known: readonly string[],
  ) {
    super(`no migration ${migration}${known.length ? ` (known: ${known.join(', ')})` : ' (no migrations found)'}`);
  }
}

export class InvalidArgumentError extends PgshiftError {
  readonly exitCode = ExitCode.invalidInput;
  readonly code = 'invalid_argument';
}

/** `pgshift lint` was given a file it cannot read, or a pattern that matches no file. */
export class LintInputError extends PgshiftError {
  readonly exitCode = ExitCode.invalidInput;
  readonly code = 'lint_input_unreadable';
  constructor(
    readonly input: string,
    readonly reason: string,
  ) {
    super(`cannot lint ${input}: ${reason}`);
  }
}

/**
 * `pgshift plan --schema-file`: the schema file cannot be read, is not a schema-only dump, or a
 * statement of it fails to load into the in-process PostgreSQL (`statement` is its number, 1-based).
 */
export class SchemaFileError extends PgshiftError {
  readonly exitCode = ExitCode.invalidInput;
  readonly code = 'schema_file_invalid';
  constructor(
    readonly schemaFile: string,
    readonly reason: string,
    readonly statement?: { number: number; line: number; text: string },
    options?: { cause?: unknown },
  ) {
    super(`schema file ${schemaFile}${statement ? `, statement ${statement.number} (line ${statement.line})` : ''}: ${reason}`, options);
  }
}

/** The schema file creates extensions the in-process PostgreSQL (PGlite) does not have. */
export class SchemaFileExtensionError extends PgshiftError {
  readonly exitCode = ExitCode.invalidInput;
  readonly code = 'schema_file_extension_unavailable';
  constructor(
    readonly schemaFile: string,
    readonly extensions: readonly string[],
  ) {
    super(
      `schema file ${schemaFile} creates extension${extensions.length > 1 ? 's' : ''} ${extensions.join(', ')}, which the in-process PostgreSQL (PGlite) ` +
        `does not have; plan against a database instead (pgshift plan without --schema-file)`,
    );
  }
}

export class ContractRefusedError extends PgshiftError {
  readonly exitCode = ExitCode.refused;
  readonly code = 'contract_refused';
  constructor(
    readonly migration: string,
    readonly reason: string,
    readonly mismatches?: number,
    readonly sampleKeys?: readonly unknown[],
  ) {
    super(`contract of ${migration} refused: ${reason}`);
  }
}

export class RollbackRefusedError extends PgshiftError {
  readonly exitCode = ExitCode.refused;
  readonly code = 'rollback_refused';
  constructor(
    readonly migration: string,
    readonly reason: string,
  ) {
    super(`rollback of ${migration} refused: ${reason}`);
  }
}

/** Phases must run in order; the requested one is not next. */
export class PhaseOrderError extends PgshiftError {
  readonly exitCode = ExitCode.refused;
  readonly code = 'phase_order';
  constructor(
    readonly migration: string,
    readonly reason: string,
  ) {
    super(`${migration}: ${reason}`);
  }
}

/**
 * `pgshift stamp` refused: the database does not show what the phase leaves, or the facts later
 * phases need cannot be read from it. Nothing was recorded.
 */
export class StampRefusedError extends PgshiftError {
  readonly exitCode = ExitCode.refused;
  readonly code = 'stamp_refused';
  constructor(
    readonly migration: string,
    readonly phase: string,
    readonly problems: readonly string[],
  ) {
    super(`cannot stamp ${phase} of ${migration}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export class OrchestratorBusyError extends PgshiftError {
  readonly exitCode = ExitCode.busy;
  readonly code = 'orchestrator_busy';
  constructor(
    readonly holderPid: number | null,
    readonly holderApplication: string | null,
    readonly holderSince: string | null,
    readonly holderClient: string | null,
  ) {
    super(
      holderPid === null
        ? 'another pgshift orchestrator holds the lock on this database'
        : `another pgshift orchestrator is running on this database: backend pid ${holderPid}, ` +
            `application "${holderApplication ?? ''}", since ${holderSince ?? 'unknown'}` +
            (holderClient ? `, client ${holderClient}` : ''),
    );
  }
}

/**
 * pgshift's connection does not keep a server backend to itself: a pooler hands it out per
 * transaction (or per statement). The orchestrator lock and the session settings of pgshift's
 * connections would land on backends other clients use, so nothing is run and no ledger created.
 * `observed` is what gave it away; `backendPids` the backends involved.
 */
export class ConnectionPooledError extends PgshiftError {
  readonly exitCode = ExitCode.invalidInput;
  readonly code = 'connection_pooled';
  constructor(
    readonly poolMode: 'transaction' | 'statement',
    readonly observed: string,
    readonly backendPids: readonly number[],
    options?: { cause?: unknown },
  ) {
    super(
      `pgshift's database connection is pooled per ${poolMode} (${poolMode} pooling detected: ${observed}). ` +
        `pgshift needs a server connection of its own for its whole run: connect it directly to PostgreSQL, ` +
        `or through a session-mode pool (e.g. a PgBouncer database entry with pool_mode=session). ` +
        `Apps may keep using transaction pooling. Nothing was run. See docs/poolers.md`,
      options,
    );
  }
}

/**
 * pg_advisory_unlock returned false: the orchestrator lock was not held by the backend the unlock
 * ran on, so it may still be held elsewhere (by a backend a pooler hands to other clients).
 */
export class LockNotReleasedError extends PgshiftError {
  readonly exitCode = ExitCode.failure;
  readonly code = 'lock_not_released';
  constructor(
    readonly lockedOnPid: number,
    readonly unlockedOnPid: number,
    readonly holderPids: readonly number[],
  ) {
    super(
      `the orchestrator lock was not released: taken on backend pid ${lockedOnPid}, the unlock ran on backend pid ${unlockedOnPid} ` +
        `and pg_advisory_unlock returned false. ` +
        (holderPids.length
          ? `It is still held by backend pid ${holderPids.join(', ')}: end it with pg_terminate_backend if no pgshift runs there`
          : 'No backend holds it now'),
    );
  }
}

/** A strong lock could not be taken within the retry budget. */
export class LockTimeoutError extends PgshiftError {
  readonly exitCode = ExitCode.failure;
  readonly code = 'lock_timeout';
  constructor(
    readonly statement: string,
    readonly attempts: number,
    readonly lockTimeoutMs: number,
    readonly blockers: readonly LockHolder[],
    options?: { cause?: unknown },
  ) {
    super(
      `gave up after ${attempts} attempt(s) of ${lockTimeoutMs} ms lock_timeout on: ${statement}` +
        (blockers.length
          ? `\n  held by: ${blockers.map((b) => `pid ${b.pid} (${b.mode}, ${b.state ?? '?'}, "${b.query ?? ''}")`).join('; ')}`
          : ''),
      options,
    );
  }
}

export interface LockHolder {
  pid: number;
  mode: string;
  application: string | null;
  state: string | null;
  query: string | null;
  xactStart: string | null;
}

/**
 * The database no longer looks like the ledger says it should (a column dropped by hand, a
 * dual-write trigger disabled): pgshift refuses to go on, as a gate would.
 */
export class DriftError extends PgshiftError {
  readonly exitCode = ExitCode.refused;
  readonly code = 'drift';
  constructor(
    readonly migration: string,
    readonly problems: readonly string[],
  ) {
    super(`${migration}: the database does not match the ledger:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** A backfill batch kept timing out (statement_timeout or lock_timeout) however small it got. */
export class BackfillBatchError extends PgshiftError {
  readonly exitCode = ExitCode.failure;
  readonly code = 'backfill_batch_failed';
  constructor(
    readonly migration: string,
    readonly task: string,
    readonly from: readonly string[] | null,
    readonly to: readonly string[],
    readonly attempts: number,
    readonly lastBatchSize: number,
    readonly sqlstate: string | undefined,
    readonly blockers: readonly LockHolder[],
    options?: { cause?: unknown },
  ) {
    super(
      `${migration}: backfill ${task} gave up on keys (${from ? JSON.stringify(from) : 'start'}, ${JSON.stringify(to)}] after ${attempts} attempt(s), ` +
        `the last with ${lastBatchSize} row(s): ${(options?.cause as Error | undefined)?.message ?? 'timeout'}. ` +
        `The checkpoint is intact${from ? ` at ${JSON.stringify(from)}` : ''}; rerun to continue once the blocker is gone` +
        (blockers.length
          ? `\n  blocked by: ${blockers.map((b) => `pid ${b.pid} (${b.mode}, ${b.state ?? '?'}, "${b.query ?? ''}")`).join('; ')}`
          : ''),
      options,
    );
  }
}

/** Stopped by a signal between batches; the checkpoint is intact and a rerun resumes. */
export class InterruptedError extends PgshiftError {
  readonly exitCode = ExitCode.failure;
  readonly code = 'interrupted';
  constructor(
    readonly migration: string,
    readonly phase: string,
    readonly cursor: readonly string[] | null,
  ) {
    super(
      `${migration}: ${phase} interrupted${cursor ? ` after key ${JSON.stringify(cursor)}` : ''}; ` +
        (phase === 'backfill' ? 'rerun to resume from the checkpoint' : 'rerun to run it again (nothing was changed by it)'),
    );
  }
}

/**
 * A UNIQUE index cannot be built because the table holds duplicate keys. The build's INVALID
 * leftover has been dropped; `sampleKeys` are up to 5 duplicated key values (a value for one
 * column, an array for several), `detail` is PostgreSQL's own.
 */
export class UniqueIndexDuplicatesError extends PgshiftError {
  readonly exitCode = ExitCode.failure;
  readonly code = 'unique_index_duplicates';
  readonly sqlstate = '23505';
  constructor(
    readonly index: string,
    readonly table: string,
    readonly columns: readonly string[],
    readonly sampleKeys: readonly unknown[],
    readonly detail: string | null,
    options?: { cause?: unknown },
  ) {
    super(
      `cannot build unique index ${index} on ${table}: duplicate values in (${columns.join(', ')})` +
        (sampleKeys.length ? `, e.g. ${sampleKeys.map((k) => JSON.stringify(k)).join(', ')}` : detail ? ` (${detail})` : '') +
        '. No invalid index was left behind; remove the duplicates and run again',
      options,
    );
  }
}

/** An index build failed and its INVALID leftover could not be dropped either. */
export class InvalidIndexLeftError extends PgshiftError {
  readonly exitCode = ExitCode.failure;
  readonly code = 'invalid_index_left';
  constructor(
    readonly index: string,
    readonly table: string,
    readonly dropError: string,
    options: { cause: unknown },
  ) {
    super(
      `building index ${index} on ${table} failed (${(options.cause as Error | undefined)?.message ?? 'unknown error'}), ` +
        `and dropping its INVALID leftover failed too (${dropError}). The next advance drops it before building again, ` +
        `or drop it by hand with DROP INDEX CONCURRENTLY`,
      options,
    );
  }
}

/** Maps anything thrown to the documented exit code. */
export function exitCodeOf(error: unknown): ExitCode {
  return error instanceof PgshiftError ? error.exitCode : ExitCode.failure;
}

/** PostgreSQL SQLSTATEs we act on. */
export const SqlState = {
  lockNotAvailable: '55P03',
  queryCanceled: '57014',
  deadlockDetected: '40P01',
  serializationFailure: '40001',
  undefinedTable: '42P01',
  duplicateObject: '42710',
  invalidCatalogName: '3D000',
  uniqueViolation: '23505',
  insufficientPrivilege: '42501',
} as const;

/**
 * The SQLSTATEs pgshift's own generated SQL raises (`RAISE EXCEPTION USING ERRCODE = …`), one
 * meaning each. Class `PG` is not used by PostgreSQL. Add new ones here, never reuse a code.
 */
export const PgshiftSqlState = {
  /** createIndex inspect: the trial index on an empty temporary copy was built; MESSAGE is its shape. Caught, never shown. */
  indexProbeDone: 'PGS01',
  /** createTable rollback: the table holds rows, so it is not dropped (rollback fails, exit 1). */
  tableHasRows: 'PGS02',
  /** dropTable contract: the table gained dependents since expand; MESSAGE names them (contract refused, exit 3). */
  tableHasDependents: 'PGS03',
  /** Carry-over inspect: the trial on an empty temporary copy finished; MESSAGE is its JSON result. Caught, never shown. */
  carryOverProbeDone: 'PGS04',
} as const;

export function sqlStateOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** One `--expect <migration>@<state>` that did not hold. */
export interface ExpectationMismatch {
  migration: string;
  expected: string;
  actual: string;
}

/**
 * `advance --expect` refused: a named migration is not in the state the pipeline expected (a
 * deploy skipped or repeated). Checked under the lock before anything runs; nothing changed.
 */
export class ExpectationFailedError extends PgshiftError {
  readonly exitCode = ExitCode.refused;
  readonly code = 'expectation_failed';
  constructor(readonly mismatches: readonly ExpectationMismatch[]) {
    super(`refused, nothing changed: ${mismatches.map((m) => `${m.migration} is ${m.actual}, expected ${m.expected}`).join('; ')}`);
  }
}

/** `wait` or `advance --wait` gave up: the timeout passed before the state was reached (or the lock came free). */
export class WaitTimeoutError extends PgshiftError {
  readonly exitCode = ExitCode.failure;
  readonly code = 'wait_timeout';
  constructor(
    readonly migration: string | null,
    readonly target: string,
    readonly state: string | null,
    readonly seconds: number,
  ) {
    super(
      `gave up after ${seconds}s waiting for ${migration ? `${migration} to reach ${target}` : target}${state ? ` (now ${state})` : ''}`,
    );
  }
}

/** `wait`: a run of the migration that the wait depended on failed or was interrupted. */
export class WaitRunFailedError extends PgshiftError {
  readonly exitCode = ExitCode.failure;
  readonly code = 'wait_run_failed';
  constructor(
    readonly migration: string,
    readonly target: string,
    readonly run: { id: number; action: string; phase: string; status: string; error: string | null },
  ) {
    super(`${migration}: waiting for ${target}, the ${run.action} run of ${run.phase} ${run.status}${run.error ? `: ${run.error}` : ''}`);
  }
}

/** `wait`: the state can no longer be reached by the runs under way (rolled back, or refused by a gate). */
export class WaitUnreachableError extends PgshiftError {
  readonly exitCode = ExitCode.refused;
  readonly code = 'wait_unreachable';
  constructor(
    readonly migration: string,
    readonly target: string,
    readonly state: string,
    readonly reason: string,
  ) {
    super(`${migration} can no longer reach ${target}: ${reason} (now ${state})`);
  }
}

/** A SQLSTATE is five digits or capitals; a network error's code (ECONNREFUSED) is not one. */
export function isSqlstate(code: unknown): code is string {
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

/** The facts of an error pgshift does not map: PostgreSQL's fields, or the network error's code. */
export function driverFacts(error: unknown): Record<string, unknown> {
  if (!error || typeof error !== 'object') return {};
  const e = error as { code?: unknown; detail?: unknown; hint?: unknown; constraint?: unknown; address?: unknown; port?: unknown };
  if (isSqlstate(e.code)) return { sqlstate: e.code, detail: e.detail, hint: e.hint, constraint: e.constraint };
  if (typeof e.code === 'string') return { networkError: e.code, address: e.address, port: e.port };
  return {};
}

/**
 * A phase failed on an error pgshift has no class for (an SQL error, a lost connection): names
 * the migration and the phase, keeps the driver's facts, and chains the original as `cause`.
 */
export class PhaseFailedError extends PgshiftError {
  readonly exitCode = ExitCode.failure;
  readonly code = 'phase_failed';
  readonly sqlstate?: string;
  readonly networkError?: string;
  constructor(
    readonly migration: string,
    readonly phase: string,
    cause: unknown,
  ) {
    super(`${migration}: ${phase} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    Object.assign(this, Object.fromEntries(Object.entries(driverFacts(cause)).filter(([, v]) => v !== undefined)));
  }
}

/** `pgshift fleet`: the targets file (or `--targets-command` output) is unusable; every problem is listed. */
export class FleetTargetsInvalidError extends PgshiftError {
  readonly exitCode = ExitCode.invalidInput;
  readonly code = 'fleet_targets_invalid';
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid fleet targets ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * `pgshift fleet advance` refused, nothing started: the next phase may start on no target while
 * any target of the fleet (every shard) has not finished the phase before it.
 */
export class FleetLockstepError extends PgshiftError {
  readonly exitCode = ExitCode.refused;
  readonly code = 'fleet_lockstep';
  constructor(
    readonly migration: string,
    readonly phase: string,
    readonly needs: string,
    readonly laggards: readonly { name: string; state: string }[],
  ) {
    super(
      `${migration}: ${phase} may not start on any target until every target has finished ${needs}; ` +
        `not yet: ${laggards.map((l) => `${l.name} (${l.state})`).join(', ')}`,
    );
  }
}
