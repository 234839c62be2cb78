import { z } from 'zod';
import { identifier, required, tableFields } from '../plan/fields.js';
import { constraintTypeName, findConstraint } from '../catalog/constraints.js';
import { describeRef, findTable, relkindName, type TableRef } from '../catalog/introspect.js';
import { dropIndexSql } from '../db/concurrent-index.js';
import type { Queryable } from '../db/queryable.js';
import { onTrialCopy } from '../db/rolled-back.js';
import type { PlanProblem } from '../errors.js';
import { ident, qualified } from '../sql/ident.js';
import { findRelation, indexConstraints, indexValidCheckSql } from '../catalog/indexes.js';
import { constraintExistsSql, constraintKey } from './blocks/constraint-steps.js';
import { indexNameClaim } from './blocks/index-names.js';
import type { CreateIndexFacts } from './create-index.js';
import type { IndexStep, ObjectNames, OperationSteps } from '../plan/steps.js';
import type { OperationHandler } from './operation.js';
import { defineOperation } from './operation.js';

export const addUniqueSchema = z.strictObject(
  {
    kind: z.literal('addUnique'),
    ...tableFields,
    /** Name of the constraint, and of the unique index expand builds for it (same schema as the table). */
    name: identifier,
    columns: z.array(identifier, { error: required('an array of column names') }).min(1, { error: 'must list at least one column' }),
  },
  { error: required('an object') },
);

export type AddUnique = z.output<typeof addUniqueSchema>;
export type AddUniqueInput = z.input<typeof addUniqueSchema>;

/** Like createIndex's: what held the index's name at inspect (an earlier expand's build, or nothing). */
type AddUniqueFacts = CreateIndexFacts;

function tableOf(op: AddUnique): TableRef {
  return { schema: op.schema, name: op.table };
}

function indexStep(op: AddUnique, action: IndexStep['action']): IndexStep {
  return { action, schema: op.schema, name: op.name, table: op.table, unique: true, columns: op.columns, where: null };
}

/** The index is named like the constraint, so ADD CONSTRAINT ... USING INDEX keeps its name. */
export function renderUniqueIndex(op: AddUnique): string {
  return `CREATE UNIQUE INDEX CONCURRENTLY ${ident(op.name)} ON ${qualified(op.schema, op.table)} USING btree (${op.columns.map(ident).join(', ')})`;
}

function validCheckSql(op: AddUnique): string {
  return indexValidCheckSql({ schema: op.schema, name: op.name, table: tableOf(op), unique: true });
}

/**
 * Expand builds the unique index CONCURRENTLY (writes go on; duplicates fail the build, which
 * leaves no index behind); contract turns it into the constraint, a catalog-only change.
 */
function steps(op: AddUnique, facts: AddUniqueFacts, _names: ObjectNames, index: number): OperationSteps {
  const table = tableOf(op);
  const where = describeRef(table);
  const id = (phase: string, what: string) => `${index}.${phase}.${what}`;
  const build =
    facts.existing === 'invalid'
      ? `; the INVALID index of that name (left by an interrupted build) is dropped first`
      : facts.existing === 'valid'
        ? `; it already exists (built by an earlier expand that stopped before recording it), so this is skipped`
        : '';
  return {
    expand: [
      {
        id: id('expand', 'create-unique-index'),
        description: `build unique index ${op.name} on ${where} while reads and writes go on${build}`,
        sql: renderUniqueIndex(op),
        lock: 'SHARE UPDATE EXCLUSIVE',
        table,
        tx: 'none',
        index: indexStep(op, 'create'),
      },
    ],
    dualWrite: [],
    backfill: [],
    afterBackfill: [],
    verify: [],
    checks: [
      { id: id('verify', 'index-valid'), description: `unique index ${op.name} exists on ${where} and is valid`, sql: validCheckSql(op) },
    ],
    contract: [
      {
        id: id('contract', 'add-unique'),
        description: `make index ${op.name} the UNIQUE constraint ${op.name} (catalog only, no scan)`,
        sql: `ALTER TABLE ${qualified(op.schema, op.table)} ADD CONSTRAINT ${ident(op.name)} UNIQUE USING INDEX ${ident(op.name)}`,
        lock: 'ACCESS EXCLUSIVE',
        table,
        tx: 'phase',
        skipIf: constraintExistsSql(table, op.name, " AND contype = 'u'"),
      },
    ],
    rollback: [
      {
        id: id('rollback', 'drop-index'),
        description: `drop index ${op.name} while reads and writes go on`,
        sql: dropIndexSql(op),
        lock: 'SHARE UPDATE EXCLUSIVE',
        table,
        tx: 'none',
        index: indexStep(op, 'drop'),
      },
    ],
    triggers: [],
  };
}

/**
 * PostgreSQL's verdict on a unique btree index over these columns (a type without a btree
 * operator class, such as json, fails), or null: built on an empty temporary copy of the table
 * in a transaction that is rolled back. Null too when the session may not create temporary tables.
 */
async function tryIndex(db: Queryable, op: AddUnique): Promise<string | null> {
  const failed: PlanProblem[] = [];
  await onTrialCopy(
    db,
    { table: qualified(op.schema, op.table), copy: op.table, path: 'trial', problems: failed, noPrivilege: () => true },
    ({ attempt }) =>
      attempt('columns', `CREATE UNIQUE INDEX ON pg_temp.${ident(op.table)} USING btree (${op.columns.map(ident).join(', ')})`),
  );
  return failed[0]?.message ?? null;
}

async function inspect(db: Queryable, op: AddUnique, path: string) {
  const problems: PlanProblem[] = [];
  const where = describeRef(tableOf(op));
  const table = await findTable(db, tableOf(op));
  if (!table) return { facts: null, problems: [{ path: `${path}.table`, message: `table ${where} does not exist` }] };
  if (table.relkind === 'p')
    problems.push({ path: `${path}.table`, message: `${where} is a partitioned table; CREATE INDEX CONCURRENTLY cannot build on it` });
  else if (table.relkind !== 'r')
    problems.push({ path: `${path}.table`, message: `${where} is a ${relkindName(table.relkind)}; addUnique supports plain tables` });
  op.columns.forEach((column, j) => {
    if (!table.columns.some((c) => c.name === column))
      problems.push({ path: `${path}.columns[${j}]`, message: `column ${column} does not exist in ${where}` });
    else if (op.columns.indexOf(column) !== j)
      problems.push({ path: `${path}.columns[${j}]`, message: `column ${column} is listed twice` });
  });
  const taken = await findConstraint(db, table.oid, op.name);
  if (taken) problems.push({ path: `${path}.name`, message: `${where} already has a ${constraintTypeName(taken.type)} named ${op.name}` });

  let state: AddUniqueFacts['existing'] = 'none';
  const existing = await findRelation(db, op.schema, op.name);
  const relation = describeRef({ schema: op.schema, name: op.name });
  if (existing && !existing.index)
    problems.push({ path: `${path}.name`, message: `${relation} is already the name of a ${relkindName(existing.relkind)}` });
  else if (existing?.index) {
    const i = existing.index;
    // Only the index an earlier expand of this very operation built is taken over; rollback drops it.
    const ours =
      i.table.schema === op.schema &&
      i.table.name === op.table &&
      i.unique &&
      i.predicate === null &&
      (i.shape ?? '').startsWith('USING btree ') &&
      i.columns.length === op.columns.length &&
      i.columns.every((c, k) => c === op.columns[k]) &&
      !taken &&
      !i.replicaIdentity &&
      (await indexConstraints(db, existing.oid)).length === 0;
    if (ours) state = i.valid ? 'valid' : 'invalid';
    else problems.push({ path: `${path}.name`, message: `index ${relation} already exists, on ${describeRef(i.table)}: ${i.definition}` });
  }
  if (problems.length) return { facts: null, problems };
  const error = await tryIndex(db, op);
  if (error) problems.push({ path: `${path}.columns`, message: `CREATE UNIQUE INDEX would fail: ${error}` });
  return { facts: problems.length ? null : { existing: state }, problems };
}

async function drift(db: Queryable, op: AddUnique, _facts: AddUniqueFacts, _names: ObjectNames, completed: readonly string[]) {
  if (!completed.includes('expand') || completed.includes('contract')) return [];
  const existing = await findRelation(db, op.schema, op.name);
  const name = `index ${op.name} (built by expand)`;
  if (!existing?.index) return [`${name} is missing`];
  if (existing.index.table.schema !== op.schema || existing.index.table.name !== op.table)
    return [`${name} is now on ${describeRef(existing.index.table)}`];
  if (!existing.index.valid) return [`${name} is INVALID`];
  return [];
}

export const addUniqueHandler: OperationHandler<AddUnique, AddUniqueFacts> = {
  describe: (op) => `add UNIQUE ${op.name} on ${describeRef(tableOf(op))} (${op.columns.join(', ')})`,
  columns: (op) => [
    ...op.columns.map((column) => ({ schema: op.schema, table: op.table, column })),
    indexNameClaim(op.schema, op.name),
    constraintKey({ table: tableOf(op), name: op.name }),
  ],
  inspect,
  steps,
  drift,
};

export const addUniqueOperation = defineOperation({ schema: addUniqueSchema, handler: addUniqueHandler });
