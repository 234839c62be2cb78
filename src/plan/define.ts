import { OPERATIONS } from '../operations/registry.js';
import type { MigrationInput } from './model.js';

/**
 * Typed helpers for plans written in TypeScript. They return plain data; the loader validates it
 * exactly as it validates JSON, so both forms have one set of rules.
 */
export function defineMigration(migration: MigrationInput): MigrationInput {
  return migration;
}

type Definition = (typeof OPERATIONS)[number];

/** Each operation's builder, by kind, from the registry. */
export const BUILDERS = Object.fromEntries(OPERATIONS.map((o) => [o.kind, o.build])) as {
  [D in Definition as D['kind']]: D['build'];
};

// Named, for the public API (src/index.ts): a plan imports `renameColumn`, not `BUILDERS.renameColumn`.
// `custom`: raw SQL per phase, linted against statements that lock or rewrite live tables (docs/operations/custom.md).
export const {
  renameColumn,
  dropColumn,
  createIndex,
  dropIndex,
  addCheck,
  addForeignKey,
  setNotNull,
  addColumn,
  addUnique,
  createTable,
  custom,
  changeColumnType,
  splitColumn,
  dropTable,
} = BUILDERS;
