// The steps an operation renders, as plain data for the executors (core: no database access).
// Tables are named by reference; the catalog reader (src/catalog/introspect.ts) fills them in.

export interface TableRef {
  schema: string;
  name: string;
}

export interface KeyColumn {
  name: string;
  type: string;
}

export interface BatchKey {
  /** Name of the constraint or unique index the key comes from. */
  source: string;
  kind: 'primary key' | 'unique not null index';
  columns: KeyColumn[];
}

/** The table-level lock a statement takes, shown by `plan --sql` and used to decide retries. */
export type LockLevel =
  'ACCESS EXCLUSIVE' | 'EXCLUSIVE' | 'SHARE ROW EXCLUSIVE' | 'SHARE' | 'SHARE UPDATE EXCLUSIVE' | 'ROW EXCLUSIVE' | 'ACCESS SHARE' | 'none';

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
