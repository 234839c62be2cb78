import type { Operation } from '../plan/model.js';
import { objectNames } from './names.js';
import { renameColumnHandler } from './rename-column.js';
import { dropColumnHandler } from './drop-column.js';
import { addCheckHandler } from './add-check.js';
import { addForeignKeyHandler } from './add-foreign-key.js';
import { createIndexHandler } from './create-index.js';
import { dropIndexHandler } from './drop-index.js';
import { setNotNullHandler } from './set-not-null.js';
import { addColumnHandler } from './add-column.js';
import { addUniqueHandler } from './add-unique.js';
import { createTableHandler } from './create-table.js';
import { customHandler } from './custom.js';
import { changeColumnTypeHandler } from './change-column-type.js';
import { splitColumnHandler } from './split-column.js';
import { dropTableHandler } from './drop-table.js';
import type { OperationHandler, OperationHandlers, OperationSteps } from './types.js';
import type { CarryOverFacts } from './carry-over.js';
import type { PlanProblem } from '../errors.js';

/** Exhaustive: adding an operation kind without a handler fails to compile. */
export const operationHandlers: OperationHandlers = {
  renameColumn: renameColumnHandler,
  dropColumn: dropColumnHandler,
  addCheck: addCheckHandler,
  addForeignKey: addForeignKeyHandler,
  createIndex: createIndexHandler,
  dropIndex: dropIndexHandler,
  setNotNull: setNotNullHandler,
  addColumn: addColumnHandler,
  addUnique: addUniqueHandler,
  createTable: createTableHandler,
  custom: customHandler,
  changeColumnType: changeColumnTypeHandler,
  splitColumn: splitColumnHandler,
  dropTable: dropTableHandler,
};

export function handlerFor(op: Operation): OperationHandler<Operation, unknown> {
  return operationHandlers[op.kind] as OperationHandler<Operation, unknown>;
}

export function stepsFor(migrationId: string, op: Operation, index: number, facts: unknown): OperationSteps {
  return handlerFor(op).steps(op, facts, objectNames(migrationId, index), index);
}

/**
 * Problems no single operation can see: a carried-over foreign key whose other side another
 * operation of the same migration changes (a key and a column referencing it, retyped together).
 * The carried key would be rebuilt against the other side's old column, which that operation's
 * contract drops. Two migrations, the referenced side first, do it.
 */
export function crossOperationProblems(operations: readonly Operation[], facts: readonly unknown[]): PlanProblem[] {
  const problems: PlanProblem[] = [];
  const touched = operations.map((op) => new Set(handlerFor(op).columns(op).map((c) => `${c.schema}.${c.table}.${c.column}`)));
  facts.forEach((f, i) => {
    const carry = (f as { carry?: CarryOverFacts } | null)?.carry;
    for (const c of carry?.constraints ?? []) {
      if (!c.partner) continue;
      const { schema, table, columns } = c.partner;
      touched.forEach((set, j) => {
        if (j === i || !columns.some((col) => set.has(`${schema}.${table}.${col}`))) return;
        problems.push({
          path: `operations[${i}]`,
          message: `foreign key ${c.name} links this column to ${schema}.${table} (${columns.join(', ')}), which operations[${j}] changes too; run them as two migrations, the referenced side first`,
        });
      });
    }
  });
  return problems;
}
