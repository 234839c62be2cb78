import type { TableRef } from '../../catalog/introspect.js';
import { ident, qualified } from '../../sql/ident.js';
import { constraintExistsSql } from './constraint-steps.js';
import type { DdlStep } from '../../plan/steps.js';

/**
 * NOT NULL without a long ACCESS EXCLUSIVE scan: a CHECK (col IS NOT NULL) NOT VALID enforces it
 * on new writes at once; VALIDATE scans under SHARE UPDATE EXCLUSIVE while writes go on; then
 * SET NOT NULL finds the validated check and skips its own scan, and the check is dropped.
 * The first two steps run in their own transactions and are skipped on a rerun when done.
 */
export function notNullViaCheck(o: {
  table: TableRef;
  column: string;
  checkName: string;
  index: number;
  /** The phase whose step ids the check's two `own` steps carry (where the caller runs them); default contract. */
  checkPhase?: 'backfill' | 'contract';
}): {
  contract: DdlStep[];
  rollback: DdlStep;
} {
  const { table, index } = o;
  const t = qualified(table.schema, table.name);
  const col = ident(o.column);
  const check = ident(o.checkName);
  const id = (phase: string, what: string) => `${index}.${phase}.${what}`;
  const constraintExists = (extra = '') => constraintExistsSql(table, o.checkName, extra);
  return {
    contract: [
      {
        id: id(o.checkPhase ?? 'contract', 'not-null-check'),
        description: `enforce ${o.column} IS NOT NULL on new writes at once, without a scan`,
        sql: `ALTER TABLE ${t} ADD CONSTRAINT ${check} CHECK (${col} IS NOT NULL) NOT VALID`,
        lock: 'ACCESS EXCLUSIVE',
        table,
        tx: 'own',
        skipIf: constraintExists(),
      },
      {
        id: id(o.checkPhase ?? 'contract', 'validate-check'),
        description: 'scan existing rows while reads and writes continue',
        sql: `ALTER TABLE ${t} VALIDATE CONSTRAINT ${check}`,
        lock: 'SHARE UPDATE EXCLUSIVE',
        table,
        tx: 'own',
        skipIf: constraintExists(' AND convalidated'),
      },
      {
        id: id('contract', 'set-not-null'),
        description: 'SET NOT NULL uses the validated check and skips its own scan',
        sql: `ALTER TABLE ${t} ALTER COLUMN ${col} SET NOT NULL`,
        lock: 'ACCESS EXCLUSIVE',
        table,
        tx: 'phase',
      },
      {
        id: id('contract', 'drop-check'),
        description: 'the check is redundant once the column is NOT NULL',
        sql: `ALTER TABLE ${t} DROP CONSTRAINT ${check}`,
        lock: 'ACCESS EXCLUSIVE',
        table,
        tx: 'phase',
      },
    ],
    rollback: {
      id: id('rollback', 'drop-check'),
      description: 'remove the NOT NULL check if it was added',
      sql: `ALTER TABLE ${t} DROP CONSTRAINT IF EXISTS ${check}`,
      lock: 'ACCESS EXCLUSIVE',
      table,
      tx: 'phase',
    },
  };
}
