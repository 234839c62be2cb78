import type { BatchKey, KeyColumn, TableRef } from '../catalog/introspect.js';
import type { Queryable } from '../db/queryable.js';
import type { PlanProblem } from '../errors.js';
import type { Operation, OperationKind } from '../plan/model.js';
import type { ShadowColumnFacts } from './shadow-column.js';
import type { ChangeColumnTypeFacts } from './change-column-type.js';

/** The table-level lock a statement takes, shown by `plan --sql` and used to decide retries. */
export type LockLevel =
  | 'ACCESS EXCLUSIVE'
  | 'EXCLUSIVE'
  | 'SHARE ROW EXCLUSIVE'
  | 'SHARE'
  | 'SHARE UPDATE EXCLUSIVE'
  | 'ROW EXCLUSIVE'
  | 'ACCESS SHARE'
  | 'none';

/**
 * - `phase`: runs in the phase's single transaction together with its ledger update
 *   (all `phase` steps of a phase come last, so the phase commits atomically);
 * - `own`: its own short transaction before that (e.g. a long VALIDATE that must not hold the
 *   phase's ACCESS EXCLUSIVE locks while it scans);
 * - `none`: outside any transaction (CREATE INDEX CONCURRENTLY).
 */
export type TransactionMode = 'phase' | 'own' | 'none';

export interface DdlStep {
  /** Stable id, unique within a migration: `<op index>.<phase>.<what>`. */
  id: string;
  description: string;
  sql: string;
  lock: LockLevel;
  /** The table whose lock it takes, to name blockers when the lock cannot be had. */
  table: TableRef | null;
  /** A second table it locks (the other end of a foreign key), whose holders are named too. */
  otherTable?: TableRef;
  tx: TransactionMode;
  /** A query returning one row `{ done: boolean }`; when done, a rerun skips the step. */
  skipIf?: string;
  /** Set on CREATE/DROP INDEX CONCURRENTLY (tx `none`): run by src/db/concurrent-index.ts, not as plain SQL. */
  index?: IndexStep;
  /** Lint refusals the plan overrode for this statement, recorded in the details of the run that runs it. */
  overrides?: StepOverride[];
}

/** A lint rule a plan's `allow` entry set aside for one statement, with the author's reason. */
export interface StepOverride {
  /** Where the statement is in the operation, e.g. `expand #2`. */
  statement: string;
  sql: string;
  rule: string;
  reason: string;
}

/**
 * What src/db/concurrent-index.ts needs besides the statement: the index to check in pg_index
 * before each attempt (and to drop if left invalid), and for a UNIQUE build the key columns and
 * predicate to sample duplicate keys with.
 */
export interface IndexStep {
  action: 'create' | 'drop';
  /** Schema of the index, which is its table's. */
  schema: string;
  name: string;
  table: string;
  unique: boolean;
  /** Key columns (plain identifiers). */
  columns: string[];
  /** Partial index predicate, or null. */
  where: string | null;
}

/** One keyset backfill over a table: `UPDATE t SET <set> WHERE <range> AND <pending>`. */
export interface BackfillTask {
  id: string;
  table: TableRef;
  key: KeyColumn[];
  set: { column: string; expression: string }[];
  /** Boolean SQL: the row still needs the backfill (rows already in sync are skipped). */
  pending: string;
}

/** A value check: rows where `mismatch` is true are counted and sampled. */
export interface VerifyTask {
  id: string;
  table: TableRef;
  key: KeyColumn[];
  mismatch: string;
  description: string;
}

/**
 * A catalog assertion checked by verification (e.g. "the new index is valid"): a query returning
 * one row `{ ok: boolean, detail: string | null }`. A failing check fails the verification.
 */
export interface CatalogCheck {
  id: string;
  description: string;
  sql: string;
}

/** A dual-write trigger that must be present and enabled for contract to proceed. */
export interface RequiredTrigger {
  table: TableRef;
  name: string;
}

/** Everything an operation does, per phase, as data for the executors in `phases/`. */
export interface OperationSteps {
  expand: DdlStep[];
  dualWrite: DdlStep[];
  backfill: BackfillTask[];
  /**
   * DDL that must wait for the backfill (an index or constraint on a new column: building it after
   * the copy keeps the batch UPDATEs HOT and checks the copied values). Runs at the end of the
   * backfill phase, `own`/`none` steps only, each skipped on a rerun when done; the phase is
   * recorded done only after all of them.
   */
  afterBackfill: DdlStep[];
  verify: VerifyTask[];
  /** Catalog assertions checked with the values by verification. */
  checks: CatalogCheck[];
  contract: DdlStep[];
  /** Undo of every phase before contract; each step is idempotent (IF EXISTS). */
  rollback: DdlStep[];
  triggers: RequiredTrigger[];
}

/** Names of the objects pgshift creates for one operation; stable across runs. */
export interface ObjectNames {
  hash: string;
  trigger: string;
  function: string;
  notNullCheck: string;
}

export interface Inspection<Facts> {
  facts: Facts | null;
  problems: PlanProblem[];
}

export interface OperationHandler<Op extends Operation, Facts> {
  describe(op: Op): string;
  /** Columns the operation reads or writes, so migrations touching the same ones run in order. */
  columns(op: Op): { schema: string; table: string; column: string }[];
  /** Reads what the operation needs from the live catalog and lists every reason it cannot run. */
  inspect(db: Queryable, op: Op, path: string): Promise<Inspection<Facts>>;
  /** Pure: renders the steps of every phase from the operation and the facts read at expand. */
  steps(op: Op, facts: Facts, names: ObjectNames, index: number): OperationSteps;
  /** Lists differences between the catalog and what the completed phases should have left. */
  drift(db: Queryable, op: Op, facts: Facts, names: ObjectNames, completed: readonly string[]): Promise<string[]>;
}

export type OperationHandlers = {
  [K in OperationKind]: OperationHandler<Extract<Operation, { kind: K }>, FactsOf<K>>;
};

/** Facts each operation records in the ledger at expand. */
export interface FactsByKind {
  renameColumn: RenameColumnFacts;
  dropColumn: DropColumnFacts;
  createIndex: CreateIndexFacts;
  dropIndex: DropIndexFacts;
  addCheck: AddCheckFacts;
  addForeignKey: AddForeignKeyFacts;
  setNotNull: SetNotNullFacts;
  addColumn: AddColumnFacts;
  addUnique: CreateIndexFacts;
  createTable: Record<string, never>;
  changeColumnType: ChangeColumnTypeFacts;
  splitColumn: SplitColumnFacts;
  dropTable: DropTableFacts;
  custom: CustomFacts;
}
export type FactsOf<K extends OperationKind> = FactsByKind[K];

/** addColumn: the batch key (null when nothing is backfilled or verified), and PostgreSQL's verdict on the default. */
export interface AddColumnFacts {
  key: BatchKey | null;
  /** ADD COLUMN … DEFAULT would rewrite the table (atthasmissing stays false on a trial copy). */
  volatileDefault: boolean;
}

/** splitColumn: the batch key, and the old column's type and collation (`down` is cast to them). */
export interface SplitColumnFacts {
  key: BatchKey;
  type: string;
  collation: { schema: string; name: string } | null;
}

/** dropTable needs nothing recorded: it only acts at contract, and re-reads the catalog then. */
export type DropTableFacts = Record<string, never>;

/** custom: the batch key of its table (null without backfill or verify), and where each CONCURRENTLY index statement's index lives, by statement label. */
export interface CustomFacts {
  key: BatchKey | null;
  indexes: Record<string, { schema: string; table: string }>;
}

/** The key setNotNull's backfill and verification batch on. */
export interface SetNotNullFacts {
  key: BatchKey;
}

/** The key verification reads the table's existing rows on. */
export interface AddCheckFacts {
  key: BatchKey;
}

export interface AddForeignKeyFacts {
  key: BatchKey;
  /**
   * Per column pair, the referenced column's collation where it differs from the referencing
   * column's (verification compares under it, as PostgreSQL's own check does), else null.
   */
  collations: ({ schema: string; name: string } | null)[];
}

/** dropColumn needs nothing recorded: it only acts at contract. */
export type DropColumnFacts = Record<string, never>;

/**
 * What held the index's name when createIndex was inspected: nothing, an INVALID index (left by an
 * interrupted build; expand drops and rebuilds it) or a valid one with exactly this definition
 * (built by an earlier expand that stopped before recording itself; expand keeps it).
 */
export interface CreateIndexFacts {
  existing: 'none' | 'invalid' | 'valid';
}

/** The index dropIndex will drop, as it was when inspected (its definition recreates it). */
export interface DropIndexFacts {
  /** Its table, in the index's schema. */
  table: string;
  unique: boolean;
  /** Key columns; an expression is `(expression)`. */
  columns: string[];
  /** pg_get_indexdef(). */
  definition: string;
  /** The definition after `ON <table>` (method, columns, options, predicate), to rebuild it. */
  shape: string;
  /** Partial index predicate, or null. */
  predicate: string | null;
}

/** renameColumn: the shadow column's shape and what is carried over to it. */
export type RenameColumnFacts = ShadowColumnFacts;
