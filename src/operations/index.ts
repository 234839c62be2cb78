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
