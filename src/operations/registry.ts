import { renameColumnOperation } from './rename-column.js';
import { dropColumnOperation } from './drop-column.js';
import { createIndexOperation } from './create-index.js';
import { dropIndexOperation } from './drop-index.js';
import { addCheckOperation } from './add-check.js';
import { addForeignKeyOperation } from './add-foreign-key.js';
import { setNotNullOperation } from './set-not-null.js';
import { addColumnOperation } from './add-column.js';
import { addUniqueOperation } from './add-unique.js';
import { createTableOperation } from './create-table.js';
import { customOperation } from './custom.js';
import { changeColumnTypeOperation } from './change-column-type.js';
import { splitColumnOperation } from './split-column.js';
import { dropTableOperation } from './drop-table.js';

/**
 * Every operation kind, one line each (its whole definition is in its own file). The order is the
 * order `unknown operation kind` lists them in and `pgshift new` offers them.
 */
export const OPERATIONS = [
  renameColumnOperation,
  dropColumnOperation,
  createIndexOperation,
  dropIndexOperation,
  addCheckOperation,
  addForeignKeyOperation,
  setNotNullOperation,
  addColumnOperation,
  addUniqueOperation,
  createTableOperation,
  customOperation,
  changeColumnTypeOperation,
  splitColumnOperation,
  dropTableOperation,
] as const;
