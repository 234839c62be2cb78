import { z } from 'zod';
import { LINT_FILE_RULES, PHASES, PLAN_FORMATS, RULE_IDS, TUNABLE_SETTINGS, WAIT_TARGETS } from '../index.js';

/**
 * What `pgshift <command> --json` prints on stdout, one document per run: defined once here, and
 * exported as the JSON Schema files in schemas/ that the package ships (`npm run schemas` writes
 * them; a unit test fails when they differ from these definitions). Each command's schema accepts
 * its own document or the failure document (`error.schema.json`).
 *
 * Objects the docs describe field by field are strict: a field added to the output without being
 * added here fails the schema test. Objects whose fields are phase- or operation-specific results
 * (a phase's `details`, the ledger's `settings`) stay open, with the documented fields typed.
 */

const phase = z.enum(PHASES);
const state = z.enum(['pending', ...PHASES]);
const count = z.int().min(0);
const seconds = z.number().min(0);
/** A Date as JSON.stringify writes it. */
const time = z.iso.datetime();
const lock = z.enum([
  'ACCESS EXCLUSIVE',
  'EXCLUSIVE',
  'SHARE ROW EXCLUSIVE',
  'SHARE',
  'SHARE UPDATE EXCLUSIVE',
  'ROW EXCLUSIVE',
  'ACCESS SHARE',
  'none',
]);
/** A real SQLSTATE (five digits or capitals): never a network error's code. */
const sqlstate = z.string().regex(/^[0-9A-Z]{5}$/);
const open = z.record(z.string(), z.unknown());

const statement = z.strictObject({
  id: z.string(),
  description: z.string(),
  sql: z.string(),
  lock,
  transaction: z.enum(['phase', 'own', 'none', 'per-batch']),
  skipIf: z.string().optional(),
  /** Backfill and verify statements: the loop as a runnable DO block (`plan --sql`). */
  template: z.string().optional(),
});

const renderedPhase = z.strictObject({
  phase: z.enum(['expand', 'dual-write', 'backfill', 'verify', 'contract', 'rollback']),
  statements: z.array(statement),
});

/** One statement a phase ran (or skipped as already done), in order. */
const stepRun = z.strictObject({ id: z.string(), lock, seconds, skipped: z.boolean() });

const phaseDetails = z.looseObject({
  statements: count.optional(),
  skipped: z.array(z.string()).optional(),
  steps: z.array(stepRun).optional(),
  /** Backfill and verification: per task (`<operation>.backfill`), rows, batches, holds, vacuum, growth. */
  tasks: z.record(z.string(), open).optional(),
  settings: open.optional(),
});

const advanceEntry = z.strictObject({
  id: z.string(),
  from: state,
  state,
  ran: z.array(z.strictObject({ phase, seconds, details: phaseDetails })),
  wouldRun: z.array(renderedPhase).optional(),
  waitingFor: z.strictObject({ migration: z.string(), columns: z.array(z.string()) }).optional(),
  next: phase.nullable(),
  complete: z.boolean(),
});

const phaseRun = z.strictObject({
  id: count,
  migrationId: z.string(),
  phase: z.string(),
  action: z.enum(['apply', 'rollback', 'verify', 'stamp', 'tune', 'pause', 'resume']),
  status: z.enum(['running', 'succeeded', 'failed', 'refused', 'interrupted']),
  startedAt: time,
  finishedAt: time.nullable(),
  host: z.string().nullable(),
  pid: z.int().nullable(),
  application: z.string().nullable(),
  backendPid: z.int().nullable(),
  pgshiftVersion: z.string().nullable(),
  details: open,
  error: z.string().nullable(),
});

const verification = z.strictObject({
  id: count,
  migrationId: z.string(),
  startedAt: time,
  finishedAt: time,
  rowsChecked: count,
  mismatches: count,
  sampleKeys: z.array(z.unknown()),
  passed: z.boolean(),
  details: open,
});

const control = {
  settings: z.partialRecord(z.enum(TUNABLE_SETTINGS), z.number().nullable()),
  paused: z.boolean(),
  version: count,
  updatedAt: time.nullable(),
  updatedBy: z.string().nullable(),
  pausedBy: z.string().nullable(),
};

const keyValues = z.array(z.string()).nullable();

const backfillProgress = z.strictObject({
  migrationId: z.string(),
  task: z.string(),
  cursor: keyValues,
  rangeStart: keyValues,
  rangeEnd: keyValues,
  rowsDone: count,
  batches: count,
  rowEstimate: z.number().nullable(),
  settings: open,
  batchSize: z.number().nullable(),
  rowsPerSecond: z.number().nullable(),
  holdReason: z.string().nullable(),
  heldSince: time.nullable(),
  startedAt: time,
  updatedAt: time,
  finishedAt: time.nullable(),
});

const backfillSummary = z.strictObject({
  rowsDone: count,
  rowEstimate: z.number().nullable(),
  percent: z.number().min(0).max(100).nullable(),
  rowsPerSecond: z.number().nullable(),
  etaSeconds: z.number().nullable(),
  workers: count,
  finished: z.boolean(),
  batchSize: z.number().nullable(),
  holdReason: z.string().nullable(),
  heldSince: time.nullable(),
  settings: open,
  control: z.strictObject(control),
});

const migrationStatus = z.strictObject({
  id: z.string(),
  description: z.string().nullable(),
  state,
  next: phase.nullable(),
  complete: z.boolean(),
  source: z.string(),
  checksumMatches: z.boolean().nullable(),
  backfill: z.array(backfillProgress),
  backfillSummary: backfillSummary.nullable(),
  verification: verification.nullable(),
  lastRun: phaseRun.nullable(),
  stamped: z.array(phase),
  tableGrowth: z.array(
    z.strictObject({
      task: z.string(),
      heapGrowth: z.number().nullable(),
      indexGrowth: z.number().nullable(),
      vacuums: count,
      /** --reindex-after: indexes rebuilt, and the indexes' growth after (null: none rebuilt). */
      reindexed: count,
      indexGrowthAfterReindex: z.number().nullable(),
    }),
  ),
});

const lintFinding = {
  rule: z.enum([...RULE_IDS, ...LINT_FILE_RULES.map((r) => r.id)]),
  severity: z.enum(['error', 'warning']),
  file: z.string(),
  line: count,
  column: count,
  endLine: count,
  endColumn: count,
  statement: z.string(),
  detail: z.string(),
  why: z.string(),
  alternative: z.string(),
  safe: z.strictObject({ command: z.string(), operation: open }).optional(),
  assumed: z.string().optional(),
  table: z.strictObject({ name: z.string(), bytes: count }).optional(),
};

// ---- The failure document: `{ ok: false, exitCode, error, message, …facts }`, one shape per code.

const lockHolder = z.strictObject({
  pid: z.int(),
  mode: z.string(),
  application: z.string().nullable(),
  state: z.string().nullable(),
  query: z.string().nullable(),
  xactStart: z.string().nullable(),
});

/** PostgreSQL's fields of an error pgshift does not map, or the network error's (never both). */
const driverFacts = {
  sqlstate: sqlstate.optional(),
  detail: z.string().optional(),
  hint: z.string().optional(),
  constraint: z.string().optional(),
  networkError: z
    .string()
    .regex(/^E[A-Z0-9_]+$/)
    .optional(),
  address: z.string().optional(),
  port: z.int().optional(),
};

function failure<const C extends string, const E extends 1 | 2 | 3 | 4, F extends z.ZodRawShape>(code: C, exitCode: E, facts: F) {
  return z.strictObject({ ok: z.literal(false), exitCode: z.literal(exitCode), error: z.literal(code), message: z.string(), ...facts });
}

const planProblems = z.array(z.strictObject({ path: z.string(), message: z.string() }));

/** Every error code with its facts (docs/cli.md, "Error codes"). */
export const FAILURES = [
  failure('plan_invalid', 2, { source: z.string(), problems: planProblems }),
  // `against` names the schema file when the plan was made offline (`plan --schema-file`).
  failure('plan_rejected', 2, { migration: z.string(), problems: planProblems, against: z.string().optional() }),
  failure('schema_file_invalid', 2, {
    schemaFile: z.string(),
    reason: z.string(),
    statement: z.strictObject({ number: count, line: count, text: z.string() }).optional(),
  }),
  failure('schema_file_extension_unavailable', 2, { schemaFile: z.string(), extensions: z.array(z.string()).min(1) }),
  failure('fleet_targets_invalid', 2, { source: z.string(), problems: z.array(z.string()).min(1) }),
  // fleet advance reports a lockstep refusal inside its result document (error, message, laggards beside targets).
  failure('fleet_lockstep', 3, {
    migration: z.string(),
    phase,
    needs: phase,
    laggards: z.array(z.strictObject({ name: z.string(), state: z.string() })),
  }),
  failure('plan_changed', 2, { migration: z.string(), recordedChecksum: z.string(), currentChecksum: z.string(), phase: z.string() }),
  failure('migration_not_found', 2, { migration: z.string(), known: z.array(z.string()) }),
  failure('invalid_argument', 2, {}),
  failure('lint_input_unreadable', 2, { input: z.string(), reason: z.string() }),
  failure('connection_pooled', 2, { poolMode: z.enum(['transaction', 'statement']), observed: z.string(), backendPids: z.array(z.int()) }),
  failure('contract_refused', 3, {
    migration: z.string(),
    reason: z.string(),
    mismatches: count.optional(),
    sampleKeys: z.array(z.unknown()).optional(),
  }),
  failure('rollback_refused', 3, { migration: z.string(), reason: z.string() }),
  failure('phase_order', 3, { migration: z.string(), reason: z.string() }),
  failure('stamp_refused', 3, { migration: z.string(), phase, problems: z.array(z.string()) }),
  failure('drift', 3, { migration: z.string(), problems: z.array(z.string()) }),
  failure('expectation_failed', 3, {
    mismatches: z.array(z.strictObject({ migration: z.string(), expected: state, actual: state })).min(1),
  }),
  failure('wait_unreachable', 3, { migration: z.string(), target: z.enum(WAIT_TARGETS), state, reason: z.string() }),
  failure('orchestrator_busy', 4, {
    holderPid: z.int().nullable(),
    holderApplication: z.string().nullable(),
    holderSince: z.string().nullable(),
    holderClient: z.string().nullable(),
  }),
  failure('phase_failed', 1, { migration: z.string(), phase, ...driverFacts }),
  failure('failure', 1, driverFacts),
  failure('lock_not_released', 1, { lockedOnPid: z.int(), unlockedOnPid: z.int(), holderPids: z.array(z.int()) }),
  failure('lock_timeout', 1, { statement: z.string(), attempts: count, lockTimeoutMs: count, blockers: z.array(lockHolder) }),
  // `phase` is also `verify` or `wait` (a verification or a wait stopped); `migration` is `(all)` for `advance --wait`.
  failure('interrupted', 1, { migration: z.string(), phase: z.enum([...PHASES, 'verify', 'wait']), cursor: keyValues }),
  failure('backfill_batch_failed', 1, {
    migration: z.string(),
    task: z.string(),
    from: keyValues,
    to: z.array(z.string()),
    attempts: count,
    lastBatchSize: count,
    sqlstate: sqlstate.optional(),
    blockers: z.array(lockHolder),
  }),
  failure('unique_index_duplicates', 1, {
    sqlstate: z.literal('23505'),
    index: z.string(),
    table: z.string(),
    columns: z.array(z.string()),
    sampleKeys: z.array(z.unknown()),
    detail: z.string().nullable(),
  }),
  failure('invalid_index_left', 1, { index: z.string(), table: z.string(), dropError: z.string() }),
  // `migration` is null for `advance --wait`, which waits for the lock, not for a migration.
  failure('wait_timeout', 1, { migration: z.string().nullable(), target: z.string(), state: state.nullable(), seconds }),
  failure('wait_run_failed', 1, {
    migration: z.string(),
    target: z.enum(WAIT_TARGETS),
    run: z.strictObject({ id: count, action: z.string(), phase: z.string(), status: z.string(), error: z.string().nullable() }),
  }),
  failure('ledger_too_new', 1, { found: z.int(), known: z.int() }),
] as const;

export const failureDocument = z.discriminatedUnion('error', FAILURES);

// ---- Each command's own document.

/** What went wrong on one target of a fleet (a pgshift error code, or unreachable/failure). */
const fleetTargetError = z.strictObject({ code: z.string(), message: z.string(), sqlstate: sqlstate.optional() });
/**
 * `pgshift fleet <subcommand> --json`: one document for the whole fleet, success or not (docs/fleets.md).
 * Each target's own result stays open (it depends on the subcommand); its name, redacted URL and
 * error are typed. A fleet's invalid input (targets file) is the failure document.
 */
const fleetBase = {
  ok: z.boolean(),
  exitCode: z.union([z.literal(0), z.literal(1), z.literal(3), z.literal(4)]),
  targets: z.array(z.looseObject({ name: z.string(), url: z.string(), error: fleetTargetError.optional() })),
  summary: z.record(z.string(), z.unknown()),
};
const fleetDocument = z.discriminatedUnion('command', [
  // status reads every migration of each target; the others act on one (null: nothing left to do).
  z.looseObject({ ...fleetBase, command: z.literal('fleet status') }),
  ...(['advance', 'wait', 'verify', 'rollback', 'tune', 'pause', 'resume'] as const).map((sub) =>
    z.looseObject({ ...fleetBase, command: z.literal(`fleet ${sub}`), migration: z.string().nullable() }),
  ),
]);

const success = <F extends z.ZodRawShape>(facts: F) => z.strictObject({ ok: z.literal(true), ...facts });

const SUCCESS = {
  advance: success({ dryRun: z.boolean(), migrations: z.array(advanceEntry) }),
  status: success({ migrations: z.array(migrationStatus) }),
  history: success({ runs: z.array(phaseRun) }),
  // ok is false, with exit 3, when a verification found mismatches.
  verify: z.strictObject({ ok: z.boolean(), verifications: z.array(verification) }),
  rollback: success({ id: z.string(), from: state, state: z.literal('pending'), statements: count }),
  plan: success({
    id: z.string(),
    state,
    phases: z.array(renderedPhase),
    /** Planned from a schema file, without a database (`plan --schema-file`). */
    offline: z.strictObject({ schemaFile: z.string(), server: z.string(), rowEstimates: z.null() }).optional(),
  }),
  tune: success({ migration: z.string(), ...control }),
  pause: success({ migration: z.string(), ...control }),
  resume: success({ migration: z.string(), ...control }),
  wait: success({ migration: z.string(), target: z.enum(WAIT_TARGETS), state, seconds }),
  new: success({
    id: z.string(),
    file: z.string(),
    format: z.enum(PLAN_FORMATS),
    recipe: z.string().nullable(),
    catalog: z.boolean(),
    placeholders: z.array(z.string()),
    notes: z.array(z.string()),
  }),
  stamp: success({
    id: z.string(),
    from: state,
    state: phase,
    stamped: z.array(z.strictObject({ phase, notes: z.array(z.string()) })).min(1),
    next: phase.nullable(),
    complete: z.boolean(),
  }),
  // ok is false, with exit 3 (or 2), when a finding is an error (or a file does not parse).
  lint: z.strictObject({
    ok: z.boolean(),
    files: z.array(z.strictObject({ file: z.string(), statements: count, parsed: z.boolean() })),
    findings: z.array(z.strictObject(lintFinding)),
    suppressed: z.array(z.strictObject({ ...lintFinding, reason: z.string() })),
    catalog: z.boolean(),
    bigTableBytes: count,
    assumeTransaction: z.boolean(),
    errors: count,
    warnings: count,
    exitCode: z.union([z.literal(0), z.literal(2), z.literal(3)]),
  }),
  fleet: fleetDocument,
} as const;

export type JsonCommand = keyof typeof SUCCESS;
export const JSON_COMMANDS = Object.keys(SUCCESS) as JsonCommand[];

/** The JSON Schema files of schemas/ (file name → document), from the definitions above. */
export function jsonSchemaFiles(): Record<string, unknown> {
  const registry = z.registry<{ id: string; title: string; description: string }>();
  registry.add(failureDocument, {
    id: 'error',
    title: 'pgshift --json failure',
    description:
      'What any pgshift command prints with --json when it fails: ok false, the exit code, a stable error code, the message and the facts of the condition.',
  });
  for (const command of JSON_COMMANDS)
    registry.add(z.union([SUCCESS[command], failureDocument]), {
      id: command,
      title: `pgshift ${command} --json`,
      description: `What \`pgshift ${command} --json\` prints on stdout: its result, or the failure document (error.schema.json).`,
    });
  const { schemas } = z.toJSONSchema(registry, { uri: (id) => `${id}.schema.json` });
  return Object.fromEntries(Object.entries(schemas).map(([id, schema]) => [`${id}.schema.json`, schema]));
}
