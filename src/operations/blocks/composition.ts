import type { PlanProblem } from '../../errors.js';
import type { Operation, OperationKind } from '../../plan/model.js';
import { expressionColumns } from '../../sql/parser.js';

/**
 * What an operation does to the table and columns it names, as far as another operation of the
 * same migration is concerned. All operations of a migration run each phase together (every
 * expand, then every dual-write, …, then every contract), so two of them on one column must not
 * undo each other's work in a later phase.
 */
export type Role =
  /** createTable: a new, empty table nothing else uses yet. */
  | 'createsTable'
  /** addColumn: a column that exists from expand on, filled by the backfill. */
  | 'addsColumn'
  /** renameColumn, changeColumnType, splitColumn: a shadow column replaces the column at contract. */
  | 'replacesColumn'
  | 'dropsColumn'
  /** setNotNull, addCheck, addForeignKey, addUnique, createIndex: the column stays, gains a rule or an index. */
  | 'constrains'
  | 'dropsTable'
  /** dropIndex names an index, not a table: it shares nothing the others can see. */
  | 'dropsIndex'
  /** custom: its SQL is not parsed; it runs in plan order and is the author's responsibility. */
  | 'opaque';

/** Exhaustive: a new operation kind without a role fails to compile. */
export const ROLE_OF: Record<OperationKind, Role> = {
  createTable: 'createsTable',
  addColumn: 'addsColumn',
  renameColumn: 'replacesColumn',
  changeColumnType: 'replacesColumn',
  splitColumn: 'replacesColumn',
  dropColumn: 'dropsColumn',
  setNotNull: 'constrains',
  addCheck: 'constrains',
  addForeignKey: 'constrains',
  addUnique: 'constrains',
  createIndex: 'constrains',
  dropTable: 'dropsTable',
  dropIndex: 'dropsIndex',
  custom: 'opaque',
};

/** Why a pair is refused and the order that works, from the earlier (`a`) and the later (`b`) operation. */
type Advice = (a: string, b: string, subject: string) => string;
export type Rule = { verdict: 'compose' } | { verdict: 'refuse'; advice: Advice };

const compose: Rule = { verdict: 'compose' };
const refuse = (advice: Advice): Rule => ({ verdict: 'refuse', advice });

const laterMigration = refuse(
  (a, b, s) =>
    `${b} acts on ${s}, which ${a} replaces or drops at contract; put ${b} in a later migration, run after this one has contracted`,
);
const beforeReplace = refuse(
  (a, b, s) =>
    `${b} replaces or drops ${s}, on which ${a} is still building; put ${b} in a later migration, run after this one has contracted`,
);
const onAddedColumn = refuse(
  (a, b, s) =>
    `${b} acts on ${s}, which ${a} adds in this migration (the column is not there to inspect or to build on until its expand); put ${b} in a later migration, or declare the column in a createTable`,
);
const createFirst = refuse((a, b, s) => `${b} creates ${s}, on which ${a} already acts; put ${b} first`);
const twice = refuse((a, b, s) => `${s} is created by both ${a} and ${b}; keep one`);
const finalShape = refuse(
  (a, b, s) => `${b} reshapes ${s}, which ${a} creates in this migration; write the column as it should be in ${a} instead`,
);
const dropLast = refuse((a, b, s) => `${b} drops ${s}, on which ${a} acts; drop it in a later migration`);
const afterDrop = refuse((a, b, s) => `${b} acts on ${s}, which ${a} drops; leave ${b} out, or run it in an earlier migration`);

/**
 * The composition table: for an earlier operation (row) and a later one (column) acting on the
 * same table or column, whether they run together or are refused at validation with the order
 * that works. Exhaustive both ways; docs/combining-operations.md explains each answer.
 */
export const COMPOSITION: Record<Role, Record<Role, Rule>> = {
  createsTable: {
    createsTable: twice,
    addsColumn: compose,
    replacesColumn: finalShape,
    dropsColumn: finalShape,
    constrains: compose,
    dropsTable: dropLast,
    dropsIndex: compose,
    opaque: compose,
  },
  addsColumn: {
    createsTable: createFirst,
    addsColumn: twice,
    replacesColumn: onAddedColumn,
    dropsColumn: onAddedColumn,
    constrains: onAddedColumn,
    dropsTable: dropLast,
    dropsIndex: compose,
    opaque: compose,
  },
  replacesColumn: {
    createsTable: createFirst,
    addsColumn: laterMigration,
    replacesColumn: laterMigration,
    dropsColumn: laterMigration,
    constrains: laterMigration,
    dropsTable: dropLast,
    dropsIndex: compose,
    opaque: compose,
  },
  dropsColumn: {
    createsTable: createFirst,
    addsColumn: laterMigration,
    replacesColumn: laterMigration,
    dropsColumn: laterMigration,
    constrains: laterMigration,
    dropsTable: dropLast,
    dropsIndex: compose,
    opaque: compose,
  },
  constrains: {
    createsTable: createFirst,
    addsColumn: beforeReplace,
    replacesColumn: beforeReplace,
    dropsColumn: beforeReplace,
    constrains: compose,
    dropsTable: dropLast,
    dropsIndex: compose,
    opaque: compose,
  },
  dropsTable: {
    createsTable: afterDrop,
    addsColumn: afterDrop,
    replacesColumn: afterDrop,
    dropsColumn: afterDrop,
    constrains: afterDrop,
    dropsTable: afterDrop,
    dropsIndex: compose,
    opaque: afterDrop,
  },
  dropsIndex: {
    createsTable: compose,
    addsColumn: compose,
    replacesColumn: compose,
    dropsColumn: compose,
    constrains: compose,
    dropsTable: compose,
    dropsIndex: compose,
    opaque: compose,
  },
  opaque: {
    createsTable: createFirst,
    addsColumn: compose,
    replacesColumn: compose,
    dropsColumn: compose,
    constrains: compose,
    dropsTable: dropLast,
    dropsIndex: compose,
    opaque: compose,
  },
};

/** The table an operation acts on and its columns there; `table` for all of it, null when it names no table. */
export interface Scope {
  table: string;
  columns: Set<string> | 'table';
}

function columnsOfCheck(check: string): string[] {
  try {
    return expressionColumns(check).map((r) => r.name);
  } catch {
    // An expression the parser refuses is reported by addCheck's own inspection; here it
    // conservatively acts on the whole table.
    return [];
  }
}

export function scopeOf(op: Operation): Scope | null {
  if (op.kind === 'dropIndex') return null;
  if (op.kind === 'custom' && op.table === undefined) return null;
  const table = JSON.stringify([op.schema, op.table]);
  const cols = (names: readonly string[]): Scope => ({ table, columns: new Set(names) });
  switch (op.kind) {
    case 'createTable':
    case 'dropTable':
    case 'custom':
      return { table, columns: 'table' };
    case 'renameColumn':
      return cols([op.from, op.to]);
    case 'changeColumnType':
      return cols([op.column, op.shadow ?? `${op.column}_new`]);
    case 'splitColumn':
      return cols([op.column, ...op.into.map((t) => t.name)]);
    case 'addCheck': {
      const names = columnsOfCheck(op.check);
      return names.length ? cols(names) : { table, columns: 'table' };
    }
    case 'addColumn':
    case 'dropColumn':
    case 'setNotNull':
      return cols([op.column]);
    case 'addForeignKey':
    case 'addUnique':
    case 'createIndex':
      return cols(op.columns);
  }
}

/** What two scopes share: `table X`, `column X.c`, or null. */
function shared(a: Scope, b: Scope): string | null {
  if (a.table !== b.table) return null;
  const [schema, name] = JSON.parse(a.table) as [string, string];
  const where = schema === 'public' ? name : `${schema}.${name}`;
  if (a.columns === 'table' || b.columns === 'table') return `table ${where}`;
  const bColumns = b.columns;
  const common = [...a.columns].filter((c) => bColumns.has(c));
  return common.length ? `column ${where}.${common.join(', ')}` : null;
}

/** Every pair of operations the composition table refuses, each reported once at the later one. */
export function compositionProblems(operations: readonly Operation[]): PlanProblem[] {
  const problems: PlanProblem[] = [];
  const scopes = operations.map(scopeOf);
  operations.forEach((b, j) => {
    for (let i = 0; i < j; i++) {
      const a = operations[i]!;
      const sa = scopes[i];
      const sb = scopes[j];
      if (!sa || !sb) continue;
      const subject = shared(sa, sb);
      if (!subject) continue;
      const rule = COMPOSITION[ROLE_OF[a.kind]][ROLE_OF[b.kind]];
      if (rule.verdict === 'refuse') {
        problems.push({
          path: `operations[${j}]`,
          message: rule.advice(`operations[${i}] (${a.kind})`, `operations[${j}] (${b.kind})`, subject),
        });
        break;
      }
    }
  });
  return problems;
}

/** The createTable operations of a plan that a later operation builds on (by index). */
export function tablesBuiltOn(operations: readonly Operation[]): Set<number> {
  const built = new Set<number>();
  const scopes = operations.map(scopeOf);
  operations.forEach((op, i) => {
    if (op.kind !== 'createTable') return;
    if (scopes.some((s, j) => j > i && s && s.table === scopes[i]!.table)) built.add(i);
  });
  return built;
}
