import { hasOption, names, relName, dropObjectName, type Node, type RelName, type Statement } from '../../sql/statements.js';
import { splitStatements } from '../../sql/statements.js';
import type { BatchKey, DdlStep, LockLevel, StepOverride, TransactionMode } from '../../plan/steps.js';
import type { RuleId } from '../../sql/lint.js';

type Sql = string | readonly string[];

/** An `allow` entry of a custom operation: a lint refusal set aside for one statement. */
export interface CustomAllow {
  statement: string;
  rule: RuleId;
  reason: string;
}

/**
 * What these helpers read of a custom operation. Its schema is in src/operations/custom.ts, which
 * passes its operations here, so the compiler checks the two agree.
 */
export interface Custom {
  schema: string;
  table?: string | undefined;
  expand?: Sql | undefined;
  dualWrite?:
    { sql?: Sql | undefined; trigger?: { up: Record<string, string>; down?: Record<string, string> | undefined } | undefined } | undefined;
  backfill?: { set?: Record<string, string> | undefined; pending?: string | undefined; after?: Sql | undefined } | undefined;
  verify?: string | undefined;
  contract?: Sql | undefined;
  rollback?: Sql | undefined;
  allow: readonly CustomAllow[];
}

/** custom: the batch key of its table (null without backfill or verify), and where each CONCURRENTLY index statement's index lives, by statement label. */
export interface CustomFacts {
  key: BatchKey | null;
  indexes: Record<string, { schema: string; table: string }>;
}

/** The raw SQL fields of a custom operation, in the order lint reads them (the order they run, rollback before contract). */
export const SQL_FIELDS = ['expand', 'dualWrite.sql', 'backfill.after', 'rollback', 'contract'] as const;
export type SqlField = (typeof SQL_FIELDS)[number];

export function sqlOf(op: Custom, field: SqlField): string | readonly string[] | undefined {
  switch (field) {
    case 'expand':
      return op.expand;
    case 'dualWrite.sql':
      return op.dualWrite?.sql;
    case 'backfill.after':
      return op.backfill?.after;
    case 'rollback':
      return op.rollback;
    case 'contract':
      return op.contract;
  }
}

/** Every statement of the operation, by field. Throws SqlTextError on a syntax error. */
export function statementsOf(op: Custom, field: SqlField): Statement[] {
  const sql = sqlOf(op, field);
  return sql === undefined ? [] : splitStatements(field, sql);
}

/** How one statement runs: the strongest table lock it takes, in which transaction, and its index if it is a concurrent index build or drop. */
export interface RunMode {
  lock: LockLevel;
  tx: TransactionMode;
  table: RelName | null;
  index?: { action: 'create' | 'drop'; name: RelName; table: RelName | null; unique: boolean; columns: string[]; partial: boolean };
}

const LOCK_MODES: LockLevel[] = [
  'none',
  'ACCESS SHARE',
  'ACCESS SHARE',
  'ROW EXCLUSIVE',
  'SHARE UPDATE EXCLUSIVE',
  'SHARE',
  'SHARE ROW EXCLUSIVE',
  'EXCLUSIVE',
  'ACCESS EXCLUSIVE',
];
const WEAKER_ALTERS: Record<string, LockLevel> = {
  AT_ValidateConstraint: 'SHARE UPDATE EXCLUSIVE',
  AT_SetStatistics: 'SHARE UPDATE EXCLUSIVE',
  AT_ClusterOn: 'SHARE UPDATE EXCLUSIVE',
  AT_DropCluster: 'SHARE UPDATE EXCLUSIVE',
  AT_AttachPartition: 'SHARE UPDATE EXCLUSIVE',
  AT_EnableTrig: 'SHARE ROW EXCLUSIVE',
  AT_DisableTrig: 'SHARE ROW EXCLUSIVE',
  AT_EnableAlwaysTrig: 'SHARE ROW EXCLUSIVE',
  AT_EnableReplicaTrig: 'SHARE ROW EXCLUSIVE',
};

function strongest(locks: LockLevel[]): LockLevel {
  return locks.reduce<LockLevel>((a, b) => (LOCK_MODES.lastIndexOf(b) > LOCK_MODES.lastIndexOf(a) ? b : a), 'none');
}

/** Statements PostgreSQL refuses to run inside a transaction block. */
function outsideTransaction(stmt: Statement): boolean {
  const n = stmt.node;
  switch (stmt.kind) {
    case 'IndexStmt':
    case 'DropStmt':
      return n.concurrent === true;
    case 'ReindexStmt':
      return hasOption(n.params, 'concurrently');
    case 'VacuumStmt':
      return n.is_vacuumcmd === true;
    case 'AlterTableStmt':
      return ((n.cmds as Node[] | undefined) ?? []).some(
        (c) =>
          ((c.AlterTableCmd as { def?: Node } | undefined)?.def?.PartitionCmd as { concurrent?: boolean } | undefined)?.concurrent === true,
      );
    case 'CreatedbStmt':
    case 'DropdbStmt':
    case 'AlterSystemStmt':
    case 'CreateTableSpaceStmt':
    case 'DropTableSpaceStmt':
      return true;
    default:
      return false;
  }
}

/** An ALTER TABLE that only validates constraints scans without blocking writes: it runs in a short transaction of its own. */
function validateOnly(stmt: Statement): boolean {
  const cmds = (stmt.node.cmds as Node[] | undefined) ?? [];
  return (
    stmt.kind === 'AlterTableStmt' &&
    cmds.length > 0 &&
    cmds.every((c) => (c.AlterTableCmd as { subtype?: string }).subtype === 'AT_ValidateConstraint')
  );
}

/** The lock level is read from the parse tree; a statement on a relation it does not know is taken to be ACCESS EXCLUSIVE. */
export function runModeOf(stmt: Statement): RunMode {
  const n = stmt.node;
  const tx: TransactionMode = outsideTransaction(stmt) ? 'none' : validateOnly(stmt) ? 'own' : 'phase';
  const on = (lock: LockLevel, table: RelName | null): RunMode => ({ lock: table ? lock : 'none', tx, table });
  switch (stmt.kind) {
    case 'CreateStmt':
    case 'CreateTableAsStmt':
    case 'ViewStmt':
    case 'CreateFunctionStmt':
    case 'CreateSeqStmt':
    case 'CompositeTypeStmt':
    case 'CreateEnumStmt':
    case 'CreateDomainStmt':
    case 'CreateSchemaStmt':
    case 'CreateExtensionStmt':
    case 'VariableSetStmt':
      return { lock: 'none', tx, table: null };
    case 'IndexStmt': {
      const table = relName(n.relation);
      const mode = on(n.concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'SHARE', table);
      if (!n.concurrent || !n.idxname) return mode;
      const params = ((n.indexParams as Node[] | undefined) ?? []).map((p) => (p.IndexElem as { name?: string }).name);
      const plain = params.every((p): p is string => typeof p === 'string');
      return {
        ...mode,
        index: {
          action: 'create',
          name: { schema: table?.schema ?? null, name: n.idxname as string },
          table,
          unique: n.unique === true,
          columns: plain ? params : [],
          partial: n.whereClause !== undefined,
        },
      };
    }
    case 'DropStmt': {
      const objects = ((n.objects as unknown[]) ?? []).map(dropObjectName);
      if (n.removeType === 'OBJECT_INDEX' && n.concurrent && objects[0])
        return {
          lock: 'SHARE UPDATE EXCLUSIVE',
          tx,
          table: null,
          index: { action: 'drop', name: objects[0], table: null, unique: false, columns: [], partial: false },
        };
      const relational = [
        'OBJECT_TABLE',
        'OBJECT_INDEX',
        'OBJECT_VIEW',
        'OBJECT_MATVIEW',
        'OBJECT_TRIGGER',
        'OBJECT_POLICY',
        'OBJECT_RULE',
      ].includes(n.removeType as string);
      return relational
        ? { lock: 'ACCESS EXCLUSIVE', tx, table: n.removeType === 'OBJECT_TABLE' ? (objects[0] ?? null) : null }
        : { lock: 'none', tx, table: null };
    }
    case 'AlterTableStmt': {
      const subtypes = ((n.cmds as Node[] | undefined) ?? []).map((c) => c.AlterTableCmd as { subtype?: string; def?: Node });
      const locks = subtypes.map((c) => {
        const con = c.def?.Constraint as { contype?: string; skip_validation?: boolean } | undefined;
        if (c.subtype === 'AT_AddConstraint' && con?.contype === 'CONSTR_FOREIGN') return 'SHARE ROW EXCLUSIVE';
        return WEAKER_ALTERS[c.subtype ?? ''] ?? 'ACCESS EXCLUSIVE';
      });
      return on(strongest(locks), relName(n.relation));
    }
    case 'CreateTrigStmt':
      return on('SHARE ROW EXCLUSIVE', relName(n.relation));
    case 'CommentStmt':
      return on('SHARE UPDATE EXCLUSIVE', commentTarget(n));
    case 'InsertStmt':
    case 'UpdateStmt':
    case 'DeleteStmt':
    case 'MergeStmt':
      return on('ROW EXCLUSIVE', relName(n.relation));
    case 'SelectStmt':
      return { lock: 'ACCESS SHARE', tx, table: null };
    case 'LockStmt': {
      const table = relName(((n.relations as Node[] | undefined) ?? [])[0]?.RangeVar);
      return on(LOCK_MODES[(n.mode as number | undefined) ?? 8] ?? 'ACCESS EXCLUSIVE', table);
    }
    case 'TruncateStmt':
    case 'ClusterStmt':
    case 'RenameStmt':
      return on('ACCESS EXCLUSIVE', relName(n.relation ?? ((n.relations as Node[] | undefined) ?? [])[0]?.RangeVar));
    case 'VacuumStmt': {
      const table = relName((((n.rels as Node[] | undefined) ?? [])[0]?.VacuumRelation as Node | undefined)?.relation);
      return on(hasOption(n.options, 'full') ? 'ACCESS EXCLUSIVE' : 'SHARE UPDATE EXCLUSIVE', table);
    }
    case 'ReindexStmt':
      return on(hasOption(n.params, 'concurrently') ? 'SHARE UPDATE EXCLUSIVE' : 'SHARE', relName(n.relation));
    case 'RefreshMatViewStmt':
      return on(n.concurrent ? 'EXCLUSIVE' : 'ACCESS EXCLUSIVE', relName(n.relation));
    default: {
      const table = relName(n.relation);
      return table ? on('ACCESS EXCLUSIVE', table) : { lock: 'none', tx, table: null };
    }
  }
}

function commentTarget(n: Node): RelName | null {
  const parts = names((n.object as { List?: { items?: unknown } } | undefined)?.List?.items);
  if (n.objtype === 'OBJECT_TABLE')
    return parts.length === 2 ? { schema: parts[0]!, name: parts[1]! } : parts[0] ? { schema: null, name: parts[0] } : null;
  if (n.objtype === 'OBJECT_COLUMN')
    return parts.length === 3 ? { schema: parts[0]!, name: parts[1]! } : parts.length === 2 ? { schema: null, name: parts[0]! } : null;
  return null;
}

/** Which statement each `allow` entry names: its label, else a piece of text found in exactly one statement. */
export function matchAllow(statements: readonly Statement[], allow: CustomAllow): { statement: Statement | null; problem: string | null } {
  const byLabel = statements.find((s) => s.label === allow.statement);
  if (byLabel) return { statement: byLabel, problem: null };
  const hits = statements.filter((s) => s.text.includes(allow.statement));
  if (hits.length === 1) return { statement: hits[0]!, problem: null };
  if (!hits.length)
    return {
      statement: null,
      problem: `matches no statement (give a label such as "${statements[0]?.label ?? 'expand #1'}", or text found in exactly one statement)`,
    };
  return { statement: null, problem: `matches ${hits.length} statements (${hits.map((s) => s.label).join(', ')}); give the label of one` };
}

/** The overrides of each statement, from the plan's `allow` (inspect has checked that each matches a refusal). */
export function overridesByStatement(op: Custom, statements: readonly Statement[]): Map<Statement, StepOverride[]> {
  const out = new Map<Statement, StepOverride[]>();
  for (const a of op.allow) {
    const { statement } = matchAllow(statements, a);
    if (!statement) continue;
    out.set(statement, [
      ...(out.get(statement) ?? []),
      { statement: statement.label, sql: statement.text, rule: a.rule, reason: a.reason },
    ]);
  }
  return out;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > 80 ? `${flat.slice(0, 77)}…` : flat;
}

/** One DdlStep per statement, in the plan's order. */
export function statementSteps(
  statements: readonly Statement[],
  o: { index: number; phase: string; defaultSchema: string; facts: CustomFacts; overrides: Map<Statement, StepOverride[]> },
): DdlStep[] {
  return statements.map((stmt) => {
    const mode = runModeOf(stmt);
    const overrides = o.overrides.get(stmt);
    const step: DdlStep = {
      id: `${o.index}.${o.phase}.${stmt.field.replace('.', '-')}-${stmt.number}`,
      description: `${stmt.label} (your SQL): ${oneLine(stmt.text)}${overrides ? `; allowed despite ${overrides.map((x) => `${x.rule} (${x.reason})`).join(', ')}` : ''}`,
      sql: stmt.text,
      lock: mode.lock,
      table: mode.table ? { schema: mode.table.schema ?? o.defaultSchema, name: mode.table.name } : null,
      tx: mode.tx,
      ...(overrides ? { overrides } : {}),
    };
    const where = o.facts.indexes[stmt.label];
    if (mode.index && where) {
      step.table = { schema: where.schema, name: where.table };
      step.index = {
        action: mode.index.action,
        schema: where.schema,
        name: mode.index.name.name,
        table: where.table,
        unique: mode.index.unique,
        columns: mode.index.partial ? [] : mode.index.columns,
        where: null,
      };
    }
    return step;
  });
}

/**
 * Statements run in the plan's order. Steps outside the phase transaction run first, so every
 * statement before the last of them also runs outside it, each in a short transaction of its own.
 */
export function inPlanOrder(steps: DdlStep[]): DdlStep[] {
  const last = steps.reduce((at, s, i) => (s.tx === 'phase' ? at : i), -1);
  return steps.map((s, i) => (i < last && s.tx === 'phase' ? { ...s, tx: 'own' as const } : s));
}
