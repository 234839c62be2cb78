import { z } from 'zod';
import { identifier, required, sqlText, tableFields } from '../plan/fields.js';
import { describeRef, findTable, relkindName, type TableRef } from '../catalog/introspect.js';
import { dropIndexSql } from '../db/concurrent-index.js';
import { singleStatement } from '../db/queryable.js';
import { findRelation, indexConstraints, indexShapeSql, indexValidCheckSql } from '../catalog/indexes.js';
import type { Queryable } from '../db/queryable.js';
import { PgshiftSqlState, SqlState, sqlStateOf, type PlanProblem } from '../errors.js';
import { dollarQuote, ident, literal, qualified } from '../sql/ident.js';
import { indexNameClaim } from './blocks/index-names.js';
import type { IndexStep, ObjectNames, OperationSteps } from '../plan/steps.js';
import type { OperationHandler } from './operation.js';
import { defineOperation } from './operation.js';

/** Index access methods createIndex accepts; each is built with its default operator classes. */
export const INDEX_METHODS = ['btree', 'hash', 'gin', 'gist', 'brin'] as const;
export type IndexMethod = (typeof INDEX_METHODS)[number];

export const createIndexSchema = z.strictObject(
  {
    kind: z.literal('createIndex'),
    ...tableFields,
    /** The index's own name; it lives in the table's schema. */
    name: identifier,
    columns: z.array(identifier, { error: required('an array of column names') }).min(1, { error: 'must list at least one column' }),
    unique: z.boolean({ error: required('true or false') }).default(false),
    /** Partial index predicate, a boolean SQL expression over the table's columns. */
    where: sqlText.optional(),
    using: z.enum(INDEX_METHODS, { error: required(`one of ${INDEX_METHODS.join(', ')}`) }).default('btree'),
  },
  { error: required('an object') },
);

export type CreateIndex = z.output<typeof createIndexSchema>;
export type CreateIndexInput = z.input<typeof createIndexSchema>;

/**
 * What held the index's name when createIndex was inspected: nothing, an INVALID index (left by an
 * interrupted build; expand drops and rebuilds it) or a valid one with exactly this definition
 * (built by an earlier expand that stopped before recording itself; expand keeps it).
 */
export interface CreateIndexFacts {
  existing: 'none' | 'invalid' | 'valid';
}

function tableOf(op: CreateIndex): TableRef {
  return { schema: op.schema, name: op.table };
}

/** The statement expand runs; CONCURRENTLY, so writes go on while it builds. */
export function renderCreateIndex(op: CreateIndex): string {
  return (
    `CREATE ${op.unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY ${ident(op.name)} ON ${qualified(op.schema, op.table)} ` +
    `USING ${op.using} (${op.columns.map(ident).join(', ')})${op.where !== undefined ? ` WHERE (${op.where})` : ''}`
  );
}

function indexStep(op: CreateIndex, action: IndexStep['action']): IndexStep {
  return { action, schema: op.schema, name: op.name, table: op.table, unique: op.unique, columns: op.columns, where: op.where ?? null };
}

function validCheckSql(op: CreateIndex): string {
  return indexValidCheckSql({ schema: op.schema, name: op.name, table: tableOf(op), unique: op.unique });
}

function steps(op: CreateIndex, facts: CreateIndexFacts, _names: ObjectNames, index: number): OperationSteps {
  const table = tableOf(op);
  const where = describeRef(table);
  const id = (phase: string, what: string) => `${index}.${phase}.${what}`;
  const build =
    facts.existing === 'invalid'
      ? `; the INVALID index of that name (left by an interrupted build) is dropped first`
      : facts.existing === 'valid'
        ? `; it already exists with this definition (built by an earlier expand that stopped before recording it), so this is skipped`
        : '';
  return {
    expand: [
      {
        id: id('expand', 'create-index'),
        description: `build ${op.unique ? 'unique ' : ''}index ${op.name} on ${where} while reads and writes go on${build}`,
        sql: renderCreateIndex(op),
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
    checks: [{ id: id('verify', 'index-valid'), description: `index ${op.name} exists on ${where} and is valid`, sql: validCheckSql(op) }],
    contract: [],
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

const PROBE_DONE = PgshiftSqlState.indexProbeDone;
const PROBE_INDEX = 'pgshift index probe';

type Probe = { shape: string | null } | { error: { message: string; hint: string | undefined } } | null;

/**
 * Builds the index on an empty temporary copy of the table (CREATE TEMP TABLE ... LIKE), inside a
 * DO block that always ends by raising, so nothing stays. It catches what only CREATE INDEX
 * checks (a predicate calling a function that is not IMMUTABLE, a method without UNIQUE or
 * multicolumn support, a type without an operator class for the method) and returns the index's
 * shape, to compare with an index that already holds the name. The copy is named like the table,
 * so a predicate that names the table still resolves. Null when the session may not create
 * temporary tables.
 */
async function probe(db: Queryable, op: CreateIndex): Promise<Probe> {
  const probeIndex = op.table === PROBE_INDEX ? `${PROBE_INDEX} 2` : PROBE_INDEX;
  const body = [
    'BEGIN',
    `  CREATE TEMP TABLE ${ident(op.table)} (LIKE ${qualified(op.schema, op.table)});`,
    `  CREATE ${op.unique ? 'UNIQUE ' : ''}INDEX ${ident(probeIndex)} ON pg_temp.${ident(op.table)} USING ${op.using} ` +
      `(${op.columns.map(ident).join(', ')})${op.where !== undefined ? ` WHERE (${op.where})` : ''};`,
    `  RAISE EXCEPTION USING ERRCODE = '${PROBE_DONE}', MESSAGE = coalesce((${indexShapeSql(`${literal(`pg_temp.${ident(probeIndex)}`)}::regclass`)}), '');`,
    'END',
  ].join('\n');
  try {
    await db.query(singleStatement(`DO ${dollarQuote(`\n${body}\n`)}`));
  } catch (error) {
    const state = sqlStateOf(error);
    if (state === PROBE_DONE) return { shape: (error as Error).message || null };
    if (state === SqlState.insufficientPrivilege) return null;
    return { error: { message: (error as Error).message, hint: (error as { hint?: string }).hint } };
  }
  throw new Error('bug: the index probe did not raise');
}

async function inspect(db: Queryable, op: CreateIndex, path: string) {
  const problems: PlanProblem[] = [];
  const ref = tableOf(op);
  const where = describeRef(ref);
  const table = await findTable(db, ref);
  if (!table) problems.push({ path: `${path}.table`, message: `table ${where} does not exist` });
  else {
    if (table.relkind === 'p')
      problems.push({
        path: `${path}.table`,
        message: `${where} is a partitioned table; CREATE INDEX CONCURRENTLY cannot build on it (index each partition, then the parent)`,
      });
    else if (table.relkind !== 'r' && table.relkind !== 'm')
      problems.push({
        path: `${path}.table`,
        message: `${where} is a ${relkindName(table.relkind)}; createIndex supports tables and materialized views`,
      });
    op.columns.forEach((column, j) => {
      if (!table.columns.some((c) => c.name === column))
        problems.push({ path: `${path}.columns[${j}]`, message: `column ${column} does not exist in ${where}` });
    });
  }

  const existing = await findRelation(db, op.schema, op.name);
  const taken = describeRef({ schema: op.schema, name: op.name });
  if (existing && !existing.index)
    problems.push({ path: `${path}.name`, message: `${taken} is already the name of a ${relkindName(existing.relkind)}` });
  else if (existing?.index && (existing.index.table.schema !== op.schema || existing.index.table.name !== op.table))
    problems.push({ path: `${path}.name`, message: `index ${taken} already exists, on ${describeRef(existing.index.table)}` });

  if (table && op.where !== undefined) {
    try {
      await db.query(singleStatement(`EXPLAIN SELECT 1 FROM ${qualified(op.schema, op.table)} WHERE (${op.where})`));
    } catch (error) {
      problems.push({ path: `${path}.where`, message: `not a valid condition on ${where}: ${(error as Error).message}` });
    }
  }
  if (problems.length) return { facts: null, problems };

  const tried = await probe(db, op);
  if (tried && 'error' in tried) {
    const { message, hint } = tried.error;
    const field = /predicate/i.test(message) ? 'where' : /unique/i.test(message) ? 'unique' : op.using !== 'btree' ? 'using' : 'columns';
    problems.push({ path: `${path}.${field}`, message: `CREATE INDEX would fail: ${message}${hint ? ` (${hint})` : ''}` });
  }
  let state: CreateIndexFacts['existing'] = 'none';
  if (existing?.index) {
    state = existing.index.valid ? 'valid' : 'invalid';
    const same =
      tried !== null &&
      'shape' in tried &&
      tried.shape !== null &&
      tried.shape === existing.index.shape &&
      existing.index.unique === op.unique;
    // A valid index is kept only if it is exactly the one asked for (an earlier expand built it)
    // and nothing else needs it, since rollback drops it.
    const needed = state === 'valid' && same ? (await indexConstraints(db, existing.oid)).map((c) => `constraint ${c.name}`) : [];
    if (state === 'valid' && same && existing.index.replicaIdentity) needed.push('the replica identity');
    if (state === 'valid' && !same)
      problems.push({
        path: `${path}.name`,
        message: `index ${taken} already exists on ${where}${tried === null ? '' : ` with another definition: ${existing.index.definition}`}`,
      });
    else if (needed.length)
      problems.push({ path: `${path}.name`, message: `index ${taken} already exists on ${where}, and ${needed.join(', ')} needs it` });
  }
  if (problems.length) return { facts: null, problems };
  return { facts: { existing: state }, problems };
}

async function drift(db: Queryable, op: CreateIndex, _facts: CreateIndexFacts, _names: ObjectNames, completed: readonly string[]) {
  if (!completed.includes('expand')) return [];
  const existing = await findRelation(db, op.schema, op.name);
  const name = `index ${op.name} (built by expand)`;
  if (!existing?.index) return [`${name} is missing`];
  if (existing.index.table.schema !== op.schema || existing.index.table.name !== op.table)
    return [`${name} is now on ${describeRef(existing.index.table)}`];
  if (!existing.index.valid) return [`${name} is INVALID`];
  return [];
}

export const createIndexHandler: OperationHandler<CreateIndex, CreateIndexFacts> = {
  describe: (op) => `create ${op.unique ? 'unique ' : ''}index ${op.name} on ${describeRef(tableOf(op))} (${op.columns.join(', ')})`,
  columns: (op) => [...op.columns.map((column) => ({ schema: op.schema, table: op.table, column })), indexNameClaim(op.schema, op.name)],
  inspect,
  steps,
  drift,
};

export const createIndexOperation = defineOperation({ schema: createIndexSchema, handler: createIndexHandler });
