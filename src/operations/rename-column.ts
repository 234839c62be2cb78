import { z } from 'zod';
import { identifier, required, tableFields } from '../plan/fields.js';
import { describeRef, type TableRef } from '../catalog/introspect.js';
import type { Queryable } from '../db/queryable.js';
import {
  inspectShadowColumn,
  shadowColumnDrift,
  shadowColumnSteps,
  type ShadowColumn,
  type ShadowColumnFacts,
} from './blocks/shadow-column.js';
import type { OperationHandler } from './operation.js';
import { defineOperation } from './operation.js';

export const renameColumnSchema = z.strictObject(
  {
    kind: z.literal('renameColumn'),
    ...tableFields,
    from: identifier,
    to: identifier,
  },
  { error: required('an object') },
);

export type RenameColumn = z.output<typeof renameColumnSchema>;
export type RenameColumnInput = z.input<typeof renameColumnSchema>;

/** renameColumn: the shadow column's shape and what is carried over to it. */
export type RenameColumnFacts = ShadowColumnFacts;

function tableOf(op: RenameColumn): TableRef {
  return { schema: op.schema, name: op.table };
}

/** A rename is a shadow column with the new name, holding the same value. */
function shadowOf(op: RenameColumn): ShadowColumn {
  return {
    table: tableOf(op),
    column: op.from,
    shadow: op.to,
    finalName: op.to,
    up: (ref) => ref(op.from),
    down: (ref) => ref(op.to),
  };
}

async function inspect(db: Queryable, op: RenameColumn, path: string) {
  const found = await inspectShadowColumn(
    db,
    { table: tableOf(op), column: op.from, columnPath: 'from', shadow: op.to, shadowPath: 'to', finalName: op.to, kind: 'renameColumn' },
    path,
  );
  const { table, column, carry, problems } = found;
  if (problems.length || !table?.key || !column || !carry) return { facts: null, problems };
  const facts: RenameColumnFacts = {
    type: column.type,
    collation: column.collation,
    notNull: column.notNull,
    comment: column.comment,
    key: table.key,
    carry,
  };
  return { facts, problems };
}

export const renameColumnHandler: OperationHandler<RenameColumn, RenameColumnFacts> = {
  describe: (op) => `rename ${describeRef(tableOf(op))}.${op.from} to ${op.to}`,
  columns: (op) => [op.from, op.to].map((column) => ({ schema: op.schema, table: op.table, column })),
  inspect,
  steps: (op, facts, names, index) => shadowColumnSteps(shadowOf(op), facts, names, index),
  drift: (db, op, _facts, names, completed) => shadowColumnDrift(db, shadowOf(op), names, completed),
};

export const renameColumnOperation = defineOperation({ schema: renameColumnSchema, handler: renameColumnHandler, createdByExpand: 'to' });
