export { Pgshift, nextPhase } from './orchestrator.js';
export { tuneSettingProblem } from './app/control.js';
export type { TuneChange } from './app/control.js';
export type { PlanPhase, PlanResult } from './app/plan.js';
export type { WaitResult } from './app/wait.js';
export type {
  AdvanceEntry,
  AdvanceOptions,
  AdvanceResult,
  BackfillSummary,
  TuneSettings,
  MigrationState,
  MigrationStatus,
  PgshiftOptions,
  PhaseOutcome,
  RollbackResult,
} from './orchestrator.js';
export type { TableGrowth } from './backfill/table-growth.js';
export type { StampOptions, StampResult, StampedPhase } from './stamp.js';
export { PLAN_FORMATS, recipeKinds, scaffoldMigration } from './scaffold.js';
export type { PlanFormat, ScaffoldOptions, ScaffoldResult } from './scaffold.js';
export { defineMigration, dropColumn, renameColumn } from './plan/define.js';
export type { DropColumn, DropColumnInput } from './operations/drop-column.js';
export { addCheck, addForeignKey } from './plan/define.js';
export type { AddCheck, AddCheckInput } from './operations/add-check.js';
export type { AddForeignKey, AddForeignKeyInput } from './operations/add-foreign-key.js';
export { createIndex, dropIndex } from './plan/define.js';
export type { CreateIndex, CreateIndexInput, IndexMethod } from './operations/create-index.js';
export type { DropIndex, DropIndexInput } from './operations/drop-index.js';
export type { IndexStep } from './plan/steps.js';
export { setNotNull } from './plan/define.js';
export type { SetNotNull, SetNotNullInput } from './operations/set-not-null.js';
export { addColumn } from './plan/define.js';
export type { AddColumn, AddColumnInput } from './operations/add-column.js';
export { addUnique } from './plan/define.js';
export type { AddUnique, AddUniqueInput } from './operations/add-unique.js';
export { createTable } from './plan/define.js';
export { changeColumnType } from './plan/define.js';
export type { ChangeColumnType, ChangeColumnTypeInput } from './operations/change-column-type.js';
export type { CreateTable, CreateTableInput } from './operations/create-table.js';
export { custom } from './plan/define.js';
export type { Custom, CustomAllow, CustomInput } from './operations/custom.js';
export { LINT_RULES, RULE_IDS } from './sql/lint.js';
export type { LintRule, RuleId } from './sql/lint.js';
export { lintSources, DEFAULT_BIG_TABLE_BYTES } from './lint/engine.js';
export type { LintFinding, LintOptions, LintReport, SuppressedFinding } from './lint/engine.js';
export { LINT_FORMATS, renderLint } from './lint/report.js';
export type { LintFormat } from './lint/report.js';
export { RULES as LINT_FILE_RULES } from './lint/rules.js';
export type { LintRuleId, RuleInfo } from './lint/rules.js';
export { parseSize, runLint, SOURCE_TOOLS } from './lint/run.js';
export type { RunLintOptions, RunLintResult, SourceTool } from './lint/run.js';
export type { LintSource } from './lint/source.js';
export { LintInputError } from './errors.js';
export { splitColumn, dropTable } from './plan/define.js';
export type { SplitColumn, SplitColumnInput } from './operations/split-column.js';
export type { DropTable, DropTableInput } from './operations/drop-table.js';
export { InvalidIndexLeftError, UniqueIndexDuplicatesError } from './errors.js';
export { loadMigrationFile, loadMigrations } from './plan/load.js';
export type { LoadedMigration } from './plan/load.js';
export { parseMigration } from './plan/validate.js';
// parseMigration, stepsFor and renderPlan are synchronous and parse SQL: await loadParser() first.
export { loadParser } from './sql/parser.js';
export { checksumOf } from './plan/checksum.js';
export { PHASES, isPhase } from './plan/model.js';
export type { Migration, MigrationInput, Operation, OperationKind, Phase, RenameColumn, RenameColumnInput } from './plan/model.js';
export { renderPlan } from './render-plan.js';
export { planOffline } from './offline/offline-plan.js';
export type { OfflinePlanOptions, OfflinePlanResult } from './offline/offline-plan.js';
export type { RenderedPhase, RenderedStatement } from './render-plan.js';
export { operationHandlers, stepsFor } from './operations/index.js';
export { objectNames, PGSHIFT_SCHEMA } from './operations/blocks/names.js';
export type { BackfillTask, DdlStep, LockLevel, OperationSteps, StepOverride, TransactionMode, VerifyTask } from './plan/steps.js';
export { DEFAULT_LOCK_POLICY } from './db/lock-retry.js';
export type { LockPolicy } from './db/lock-retry.js';
export type { BackfillSettings, ProgressEvent, VerifySettings } from '../phases/context.js';
export { DEFAULT_BACKFILL_SETTINGS, TUNABLE_SETTINGS, VACUUM_HOLDS } from '../phases/context.js';
export type { VacuumHold } from '../phases/context.js';
export type { BackfillControl, BackfillProgress, PhaseRun, Verification } from './ledger/ledger.js';
export { ident, qualified, literal } from './sql/ident.js';
export { createLogger } from './logger.js';
export type { Logger } from './logger.js';
export {
  BackfillBatchError,
  ContractRefusedError,
  DriftError,
  PhaseFailedError,
  ExpectationFailedError,
  WaitRunFailedError,
  WaitTimeoutError,
  WaitUnreachableError,
  ExitCode,
  InterruptedError,
  InvalidArgumentError,
  LockTimeoutError,
  MigrationNotFoundError,
  OrchestratorBusyError,
  PgshiftError,
  PhaseOrderError,
  PlanChangedError,
  PlanInvalidError,
  PlanRejectedError,
  RollbackRefusedError,
  StampRefusedError,
  exitCodeOf,
  driverFacts,
  isSqlstate,
} from './errors.js';
export type { PlanProblem, LockHolder, ExpectationMismatch } from './errors.js';
export { ConnectionPooledError, LockNotReleasedError } from './errors.js';
export { parseExpectation } from './expect.js';
export { WAIT_TARGETS, isWaitTarget } from './wait.js';
export type { WaitEvent, WaitOptions, WaitTarget } from './wait.js';
export type { Expectation } from './expect.js';
export { VERSION } from './version.js';
export { fleetAdvance } from './fleet/advance.js';
export type { FleetAdvanceOptions, FleetAdvanceReport, FleetAdvanceResult, FleetAdvanceTarget, FleetWave } from './fleet/advance.js';
export { fleetControl, fleetRollback, fleetStatus, fleetVerify, fleetWait } from './fleet/commands.js';
export type {
  FleetControlAction,
  FleetEachReport,
  FleetEachResult,
  FleetEachTarget,
  FleetStatusReport,
  FleetStatusTarget,
  FleetWaitReport,
  FleetWaitResult,
} from './fleet/commands.js';
export { FAILURE_POLICIES } from './fleet/context.js';
export type { FailurePolicy, FleetEvent, FleetOptions, FleetTargetError } from './fleet/context.js';
export { inShard, loadTargets, parseShard, parseTargets, redactUrl, shardOf } from './fleet/targets.js';
export type { FleetTarget, Shard } from './fleet/targets.js';
export { DEFAULT_WAVES, parseWaves, splitWaves } from './fleet/waves.js';
export type { WaveSize } from './fleet/waves.js';
export { FleetLockstepError, FleetTargetsInvalidError } from './errors.js';
