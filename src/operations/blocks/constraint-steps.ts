import { constraintTypeName, findConstraint } from '../../catalog/constraints.js';
import { describeRef, findTable, type TableInfo, type TableRef } from '../../catalog/introspect.js';
import type { Queryable } from '../../db/queryable.js';
import type { PlanProblem } from '../../errors.js';
import { ident, literal, qualified } from '../../sql/ident.js';
import type { CatalogCheck, DdlStep } from '../../plan/steps.js';
import { tableProblems } from './table-checks.js';

/**
 * What addCheck and addForeignKey share: a constraint added NOT VALID at expand (enforced on new
 * writes from then on), its existing rows checked by verification, VALIDATE at contract, and
 * DROP CONSTRAINT IF EXISTS as the undo.
 */
export interface ConstraintRef {
  table: TableRef;
  name: string;
  /** pg_constraint.contype: 'c' or 'f'. */
  type: 'c' | 'f';
}

function conditionOn(c: Pick<ConstraintRef, 'table' | 'name'>, extra = ''): string {
  const t = qualified(c.table.schema, c.table.name);
  return `conrelid = pg_catalog.to_regclass(${literal(t)}) AND conname = ${literal(c.name)}${extra}`;
}

/** A step's `skipIf`: the constraint `name` on `table` exists (and satisfies `extra`, e.g. ` AND convalidated`). */
export function constraintExistsSql(table: TableRef, name: string, extra = ''): string {
  return `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE ${conditionOn({ table, name }, extra)}) AS done`;
}

/** `VALIDATE CONSTRAINT` in its own transaction, skipped on a rerun once it has validated. */
export function validateStep(c: ConstraintRef, index: number, description: string): DdlStep {
  return {
    id: `${index}.contract.validate`,
    description,
    sql: `ALTER TABLE ${qualified(c.table.schema, c.table.name)} VALIDATE CONSTRAINT ${ident(c.name)}`,
    lock: 'SHARE UPDATE EXCLUSIVE',
    table: c.table,
    // A scan of the whole table: it must not hold the phase transaction's locks (or its 10 s limit).
    tx: 'own',
    skipIf: constraintExistsSql(c.table, c.name, ' AND convalidated'),
  };
}

export function dropStep(c: ConstraintRef, index: number, description: string): DdlStep {
  return {
    id: `${index}.rollback.drop-constraint`,
    description,
    sql: `ALTER TABLE ${qualified(c.table.schema, c.table.name)} DROP CONSTRAINT IF EXISTS ${ident(c.name)}`,
    lock: 'ACCESS EXCLUSIVE',
    table: c.table,
    tx: 'phase',
  };
}

/** Verification fails if the constraint expand added is gone or was replaced by another kind. */
export function presentCheck(c: ConstraintRef, index: number): CatalogCheck {
  const what = `${constraintTypeName(c.type)} ${c.name} on ${describeRef(c.table)}`;
  return {
    id: `${index}.verify.constraint-present`,
    description: `${what} (added NOT VALID by expand) is present`,
    sql:
      `SELECT count(*) FILTER (WHERE contype = ${literal(c.type)}) = 1 AS ok, ` +
      `CASE WHEN count(*) FILTER (WHERE contype = ${literal(c.type)}) = 1 THEN NULL ELSE ${literal(`${what} is missing`)} END AS detail ` +
      `FROM pg_catalog.pg_constraint WHERE ${conditionOn(c)}`,
  };
}

/** Between expand and contract the constraint must be there, and of the right kind. */
export async function constraintDrift(db: Queryable, c: ConstraintRef, completed: readonly string[]): Promise<string[]> {
  const where = describeRef(c.table);
  const table = await findTable(db, c.table);
  if (!table) return [`table ${where} is gone`];
  if (!completed.includes('expand') || completed.includes('contract')) return [];
  const found = await findConstraint(db, table.oid, c.name);
  if (!found) return [`${constraintTypeName(c.type)} ${c.name} (added by expand) is missing from ${where}`];
  if (found.type !== c.type)
    return [`constraint ${c.name} on ${where} is a ${constraintTypeName(found.type)}, not the ${constraintTypeName(c.type)} expand added`];
  return [];
}

/**
 * The table a constraint is added to: a plain table without inheritance children (whose rows
 * verification would also read), with a key to verify on, and no constraint of that name yet.
 */
export async function inspectTarget(
  db: Queryable,
  c: { table: TableRef; name: string; kind: string },
  path: string,
): Promise<{ table: TableInfo | null; problems: PlanProblem[] }> {
  const problems: PlanProblem[] = [];
  const where = describeRef(c.table);
  const table = await findTable(db, c.table);
  if (!table) return { table: null, problems: [{ path: `${path}.table`, message: `table ${where} does not exist` }] };
  problems.push(...tableProblems(table, { kind: c.kind, path, typed: false, key: 'verify the existing rows' }));
  const taken = await findConstraint(db, table.oid, c.name);
  if (taken) problems.push({ path: `${path}.name`, message: `${where} already has a ${constraintTypeName(taken.type)} named ${c.name}` });
  return { table, problems };
}

/**
 * The ordering key of a constraint: a pseudo column, so that two unfinished migrations adding a
 * constraint of the same name to the same table run one after the other.
 */
export function constraintKey(c: { table: TableRef; name: string }): { schema: string; table: string; column: string } {
  return { schema: c.table.schema, table: c.table.name, column: `constraint ${c.name}` };
}
