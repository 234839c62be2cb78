export { Pgshift, nextPhase } from './orchestrator.js';
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
export type { DropColumn, DropColumnInput } from './operations/drop-column.schema.js';
export { addCheck, addForeignKey } from './plan/define.js';
export type { AddCheck, AddCheckInput } from './operations/add-check.schema.js';
export type { AddForeignKey, AddForeignKeyInput } from './operations/add-foreign-key.schema.js';
export { createIndex, dropIndex } from './plan/define.js';
export type { CreateIndex, CreateIndexInput, IndexMethod } from './operations/create-index.schema.js';
export type { DropIndex, DropIndexInput } from './operations/drop-index.schema.js';
export type { IndexStep } from './operations/types.js';
export { setNotNull } from './plan/define.js';
export type { SetNotNull, SetNotNullInput } from './operations/set-not-null.schema.js';
export { addColumn } from './plan/define.js';
export type { AddColumn, AddColumnInput } from './operations/add-column.schema.js';
export { addUnique } from './plan/define.js';
export type { AddUnique, AddUniqueInput } from './operations/add-unique.schema.js';
export { createTable } from './plan/define.js';
export { changeColumnType } from './plan/define.js';
export type { ChangeColumnType, ChangeColumnTypeInput } from './operations/change-column-type.schema.js';
export type { CreateTable, CreateTableInput } from './operations/create-table.schema.js';
export { custom } from './plan/define.js';
export type { Custom, CustomAllow, CustomInput } from './operations/custom.schema.js';
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
export type { SplitColumn, SplitColumnInput } from './operations/split-column.schema.js';
export type { DropTable, DropTableInput } from './operations/drop-table.schema.js';
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
export { objectNames, PGSHIFT_SCHEMA } from './operations/names.js';
export type { BackfillTask, DdlStep, LockLevel, OperationSteps, StepOverride, TransactionMode, VerifyTask } from './operations/types.js';
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
