import type { DropColumnInput } from '../operations/drop-column.schema.js';
import type { AddCheckInput } from '../operations/add-check.schema.js';
import type { AddForeignKeyInput } from '../operations/add-foreign-key.schema.js';
import type { AddUniqueInput } from '../operations/add-unique.schema.js';
import type { CreateTableInput } from '../operations/create-table.schema.js';
import type { CreateIndexInput } from '../operations/create-index.schema.js';
import type { DropIndexInput } from '../operations/drop-index.schema.js';
import type { SetNotNullInput } from '../operations/set-not-null.schema.js';
import type { AddColumnInput } from '../operations/add-column.schema.js';
import type { CustomInput } from '../operations/custom.schema.js';
import type { SplitColumnInput } from '../operations/split-column.schema.js';
import type { DropTableInput } from '../operations/drop-table.schema.js';
import type { ChangeColumnTypeInput } from '../operations/change-column-type.schema.js';
import type { MigrationInput, RenameColumnInput } from './model.js';

/**
 * Typed helpers for plans written in TypeScript. They return plain data; the loader validates it
 * exactly as it validates JSON, so both forms have one set of rules.
 */
export function defineMigration(migration: MigrationInput): MigrationInput {
  return migration;
}

export function renameColumn(options: Omit<RenameColumnInput, 'kind'>): RenameColumnInput {
  return { kind: 'renameColumn', ...options };
}

export function dropColumn(options: Omit<DropColumnInput, 'kind'>): DropColumnInput {
  return { kind: 'dropColumn', ...options };
}

export function addCheck(options: Omit<AddCheckInput, 'kind'>): AddCheckInput {
  return { kind: 'addCheck', ...options };
}

export function addForeignKey(options: Omit<AddForeignKeyInput, 'kind'>): AddForeignKeyInput {
  return { kind: 'addForeignKey', ...options };
}

export function createIndex(options: Omit<CreateIndexInput, 'kind'>): CreateIndexInput {
  return { kind: 'createIndex', ...options };
}

export function dropIndex(options: Omit<DropIndexInput, 'kind'>): DropIndexInput {
  return { kind: 'dropIndex', ...options };
}

export function setNotNull(options: Omit<SetNotNullInput, 'kind'>): SetNotNullInput {
  return { kind: 'setNotNull', ...options };
}

export function addColumn(options: Omit<AddColumnInput, 'kind'>): AddColumnInput {
  return { kind: 'addColumn', ...options };
}

export function addUnique(options: Omit<AddUniqueInput, 'kind'>): AddUniqueInput {
  return { kind: 'addUnique', ...options };
}

export function createTable(options: Omit<CreateTableInput, 'kind'>): CreateTableInput {
  return { kind: 'createTable', ...options };
}

/** Raw SQL per phase, linted against statements that lock or rewrite live tables (docs/operations/custom.md). */
export function custom(options: Omit<CustomInput, 'kind'>): CustomInput {
  return { kind: 'custom', ...options };
}

export function splitColumn(options: Omit<SplitColumnInput, 'kind'>): SplitColumnInput {
  return { kind: 'splitColumn', ...options };
}

export function dropTable(options: Omit<DropTableInput, 'kind'>): DropTableInput {
  return { kind: 'dropTable', ...options };
}

export function changeColumnType(options: Omit<ChangeColumnTypeInput, 'kind'>): ChangeColumnTypeInput {
  return { kind: 'changeColumnType', ...options };
}
