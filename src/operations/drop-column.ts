import { z } from 'zod';
import { identifier, required, tableFields } from '../plan/fields.js';
import { columnDependents, describeRef, findTable, relkindName, type TableRef } from '../catalog/introspect.js';
import type { Queryable } from '../db/queryable.js';
import type { PlanProblem } from '../errors.js';
import { ident, literal, qualified } from '../sql/ident.js';
import type { OperationHandler } from './operation.js';
import type { OperationSteps } from '../plan/steps.js';
import { defineOperation } from './operation.js';

export const dropColumnSchema = z.strictObject(
  {
    kind: z.literal('dropColumn'),
    ...tableFields,
    column: identifier,
  },
  { error: required('an object') },
);

export type DropColumn = z.output<typeof dropColumnSchema>;
export type DropColumnInput = z.input<typeof dropColumnSchema>;

/** dropColumn needs nothing recorded: it only acts at contract. */
export type DropColumnFacts = Record<string, never>;

function tableOf(op: DropColumn): TableRef {
  return { schema: op.schema, name: op.table };
}

/**
 * Drops a column the app no longer uses. Everything happens at contract (the "contract only"
 * operation): until then old app versions may still read it, and rollback has nothing to undo.
 * DROP COLUMN is metadata only (no rewrite) and takes ACCESS EXCLUSIVE briefly.
 */
function steps(op: DropColumn, _facts: DropColumnFacts, _names: unknown, index: number): OperationSteps {
  const table = tableOf(op);
  const t = qualified(op.schema, op.table);
  return {
    expand: [],
    dualWrite: [],
    backfill: [],
    afterBackfill: [],
    verify: [],
    checks: [
      {
        id: `${index}.verify.column-present`,
        description: `${op.column} is still there to drop`,
        sql:
          `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass(${literal(t)}) ` +
          `AND attname = ${literal(op.column)} AND NOT attisdropped) AS ok, 'column ${op.column.replaceAll("'", "''")} is missing' AS detail`,
      },
    ],
    contract: [
      {
        id: `${index}.contract.drop-column`,
        description: `drop ${op.column} (metadata only, no rewrite)`,
        sql: `ALTER TABLE ${t} DROP COLUMN IF EXISTS ${ident(op.column)}`,
        lock: 'ACCESS EXCLUSIVE',
        table,
        tx: 'phase',
      },
    ],
    rollback: [],
    triggers: [],
  };
}

async function inspect(db: Queryable, op: DropColumn, path: string) {
  const problems: PlanProblem[] = [];
  const where = describeRef(tableOf(op));
  const table = await findTable(db, tableOf(op));
  if (!table) return { facts: null, problems: [{ path: `${path}.table`, message: `table ${where} does not exist` }] };
  if (table.relkind !== 'r' && table.relkind !== 'p')
    problems.push({ path: `${path}.table`, message: `${where} is a ${relkindName(table.relkind)}; dropColumn works on tables` });
  const column = table.columns.find((c) => c.name === op.column);
  if (!column)
    return { facts: null, problems: [...problems, { path: `${path}.column`, message: `column ${op.column} does not exist in ${where}` }] };
  if (table.key?.columns.some((k) => k.name === op.column))
    problems.push({ path: `${path}.column`, message: `${op.column} is part of ${where}'s key (${table.key.source}); drop the key first` });
  // Objects that would silently go with the column (indexes, constraints) or block the drop (views):
  // either way the plan must say so explicitly, by dropping them first.
  for (const dependent of await columnDependents(db, table.oid, column.attnum))
    problems.push({ path: `${path}.column`, message: `${op.column} has a dependent object: ${dependent}; drop it first` });
  return { facts: problems.length ? null : {}, problems };
}

async function drift(db: Queryable, op: DropColumn, _facts: DropColumnFacts, _names: unknown, completed: readonly string[]) {
  if (completed.includes('contract')) return [];
  const table = await findTable(db, tableOf(op));
  if (!table) return [`table ${describeRef(tableOf(op))} is gone`];
  return table.columns.some((c) => c.name === op.column) ? [] : [`column ${op.column} is already gone from ${describeRef(tableOf(op))}`];
}

export const dropColumnHandler: OperationHandler<DropColumn, DropColumnFacts> = {
  describe: (op) => `drop ${describeRef(tableOf(op))}.${op.column}`,
  columns: (op) => [{ schema: op.schema, table: op.table, column: op.column }],
  inspect,
  steps,
  drift,
};

export const dropColumnOperation = defineOperation({ schema: dropColumnSchema, handler: dropColumnHandler });
