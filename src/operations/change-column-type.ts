import { z } from 'zod';
import { identifier, required, sqlText, tableFields } from '../plan/fields.js';
import { describeRef, type TableRef } from '../catalog/introspect.js';
import type { Queryable } from '../db/queryable.js';
import type { PlanProblem } from '../errors.js';
import { ident, MAX_IDENTIFIER_BYTES, qualified } from '../sql/ident.js';
import { expressionColumns, parseSql, rewriteColumns, SqlTextError } from '../sql/parser.js';
import {
  inspectShadowColumn,
  shadowColumnDrift,
  shadowColumnSteps,
  type ShadowColumn,
  type ShadowColumnFacts,
} from './blocks/shadow-column.js';
import type { OperationHandler } from './operation.js';
import { defineOperation } from './operation.js';

export const changeColumnTypeSchema = z.strictObject(
  {
    kind: z.literal('changeColumnType'),
    ...tableFields,
    column: identifier,
    /** The new type, as in ALTER COLUMN ... TYPE (e.g. `bigint`, `numeric(12,2)`, `text COLLATE "C"`). */
    type: sqlText,
    /**
     * The new value from the old row, as in ALTER COLUMN ... USING: an expression naming the
     * table's columns unqualified (`column` is the old value). Default: `column::type`.
     */
    using: sqlText.optional(),
    /**
     * The old value from the new one, for writes of the new app version: an expression where
     * `column` names the NEW value (other columns as they are). Default: `column::old type`.
     */
    reverse: sqlText.optional(),
    /** The new column's name until contract, for the new app version to write. Default `<column>_new`. */
    shadow: identifier.optional(),
  },
  { error: required('an object') },
);

export type ChangeColumnType = z.output<typeof changeColumnTypeSchema>;
export type ChangeColumnTypeInput = z.input<typeof changeColumnTypeSchema>;

export type ChangeColumnTypeFacts = ShadowColumnFacts & {
  /** The old column's type (for the default reverse cast). */
  oldType: string;
};

function tableOf(op: ChangeColumnType): TableRef {
  return { schema: op.schema, name: op.table };
}

/** `<column>_new`, cut to fit PostgreSQL's 63 bytes. */
export function shadowName(op: ChangeColumnType): string {
  if (op.shadow !== undefined) return op.shadow;
  let base = op.column;
  while (Buffer.byteLength(`${base}_new`, 'utf8') > MAX_IDENTIFIER_BYTES) base = base.slice(0, -1);
  return `${base}_new`;
}

function usingOf(op: ChangeColumnType): string {
  return op.using ?? `${ident(op.column)}::${op.type}`;
}

function reverseOf(op: ChangeColumnType, oldType: string): string {
  return op.reverse ?? `${ident(op.column)}::${oldType}`;
}

function shadowOf(op: ChangeColumnType, oldType: string): ShadowColumn {
  const shadow = shadowName(op);
  return {
    table: tableOf(op),
    column: op.column,
    shadow,
    finalName: op.column,
    up: (ref) => `(${rewriteColumns(usingOf(op), ref)})`,
    // In `reverse`, the column's own name means the new value: the shadow.
    down: (ref) => `(${rewriteColumns(reverseOf(op, oldType), (c) => ref(c === op.column ? shadow : c))})`,
  };
}

/** The type must be a type name and nothing else: checked with PostgreSQL's parser before it goes near SQL. */
function typeProblem(type: string): string | null {
  try {
    const tree = parseSql(`SELECT NULL::${type}`, 'SELECT NULL::'.length);
    const stmts = tree.stmts ?? [];
    const target = (stmts[0]?.stmt as { SelectStmt?: { targetList?: { ResTarget?: { val?: Record<string, unknown> } }[] } } | undefined)
      ?.SelectStmt?.targetList;
    const val = target?.length === 1 ? target[0]?.ResTarget?.val : undefined;
    const cast = (val?.CollateClause as { arg?: Record<string, unknown> } | undefined)?.arg ?? val;
    if (stmts.length !== 1 || !cast || !('TypeCast' in cast)) return 'must be a type name (e.g. bigint, numeric(12,2), text COLLATE "C")';
    return null;
  } catch (error) {
    return `not a type: ${(error as Error).message}`;
  }
}

async function inspect(db: Queryable, op: ChangeColumnType, path: string) {
  const problems: PlanProblem[] = [];
  const bad = typeProblem(op.type);
  if (bad) problems.push({ path: `${path}.type`, message: bad });
  const exprs: [string, string | undefined][] = [
    ['using', op.using],
    ['reverse', op.reverse],
  ];
  const named = new Map<string, string[]>();
  for (const [field, expr] of exprs) {
    if (expr === undefined) continue;
    try {
      named.set(
        field,
        expressionColumns(expr).map((r) => r.name),
      );
    } catch (error) {
      if (!(error instanceof SqlTextError)) throw error;
      problems.push({ path: `${path}.${field}`, message: error.message });
    }
  }
  if (problems.length) return { facts: null, problems };

  const shadow = shadowName(op);
  const found = await inspectShadowColumn(
    db,
    {
      table: tableOf(op),
      column: op.column,
      columnPath: 'column',
      shadow,
      shadowPath: op.shadow !== undefined ? 'shadow' : 'column',
      finalName: op.column,
      kind: 'changeColumnType',
      retype: { type: op.type, using: usingOf(op) },
    },
    path,
  );
  const { table, column, carry } = found;
  problems.push(...found.problems);
  if (table)
    for (const [field, columns] of named)
      for (const c of columns)
        if (!table.columns.some((x) => x.name === c))
          problems.push({ path: `${path}.${field}`, message: `column ${c} does not exist in ${describeRef(table)}` });
  if (problems.length || !table?.key || !column || !carry?.type) return { facts: null, problems };
  if (carry.type === column.type && (carry.collation?.name ?? null) === (column.collation?.name ?? null))
    return { facts: null, problems: [{ path: `${path}.type`, message: `${op.column} is already ${column.type}` }] };

  const reverse = reverseOf(op, column.type);
  try {
    await db.query(
      `EXPLAIN SELECT (${rewriteColumns(reverse, (c) => (c === op.column ? `(NULL::${carry.type})` : ident(c)))})::${column.type} FROM ${qualified(table.schema, table.name)}`,
    );
  } catch (error) {
    problems.push({
      path: `${path}.reverse`,
      message: `cannot compute the old ${column.type} value from the new ${carry.type}: ${(error as Error).message}`,
    });
    return { facts: null, problems };
  }
  const facts: ChangeColumnTypeFacts = {
    type: carry.type,
    collation: carry.collation ?? null,
    notNull: column.notNull,
    comment: column.comment,
    key: table.key,
    carry,
    oldType: column.type,
  };
  return { facts, problems };
}

export const changeColumnTypeHandler: OperationHandler<ChangeColumnType, ChangeColumnTypeFacts> = {
  describe: (op) => `change ${describeRef(tableOf(op))}.${op.column} to ${op.type} (through ${shadowName(op)})`,
  columns: (op) => {
    const read = [op.using, op.reverse].flatMap((e) => {
      try {
        return e === undefined ? [] : expressionColumns(e).map((r) => r.name);
      } catch {
        return [];
      }
    });
    return [...new Set([op.column, shadowName(op), ...read])].map((column) => ({ schema: op.schema, table: op.table, column }));
  },
  inspect,
  steps: (op, facts, names, index) => shadowColumnSteps(shadowOf(op, facts.oldType), facts, names, index),
  drift: (db, op, facts, names, completed) => shadowColumnDrift(db, shadowOf(op, facts.oldType), names, completed),
};

export const changeColumnTypeOperation = defineOperation({ schema: changeColumnTypeSchema, handler: changeColumnTypeHandler });
