import { z } from 'zod';
import { identifier, required, sqlText, tableFields } from '../plan/fields.js';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { findRelation } from '../catalog/indexes.js';
import { tableShape } from '../catalog/table-shape.js';
import { describeRef, relkindName, type TableRef } from '../catalog/introspect.js';
import { queryRows, singleStatement, type Queryable } from '../db/queryable.js';
import { inRolledBackTransaction } from '../db/rolled-back.js';
import { PgshiftSqlState, type PlanProblem } from '../errors.js';
import { dollarQuote, ident, literal, qualified } from '../sql/ident.js';
import type { ObjectNames, OperationSteps } from '../plan/steps.js';
import { PGSHIFT_SCHEMA } from './blocks/names.js';
import type { OperationHandler } from './operation.js';
import { defineOperation } from './operation.js';

const columnDef = z.strictObject(
  {
    name: identifier,
    /** A PostgreSQL type as written in CREATE TABLE (`bigint`, `text`, `numeric(10,2)`, `timestamptz`). */
    type: sqlText,
    notNull: z.boolean({ error: required('true or false') }).default(false),
    /** A default expression, used as written. */
    default: sqlText.optional(),
    /** This column alone is the primary key (use the table's `primaryKey` for several). */
    primaryKey: z.boolean({ error: required('true or false') }).default(false),
  },
  { error: required('an object') },
);

export const createTableSchema = z
  .strictObject(
    {
      kind: z.literal('createTable'),
      ...tableFields,
      columns: z.array(columnDef, { error: required('an array of columns') }).min(1, { error: 'must list at least one column' }),
      /** The primary key's columns, when it has several (or instead of a column's `primaryKey`). */
      primaryKey: z
        .array(identifier, { error: required('an array of column names') })
        .min(1, { error: 'must list at least one column' })
        .optional(),
    },
    { error: required('an object') },
  )
  .superRefine((op, ctx) => {
    const names = op.columns.map((c) => c.name);
    names.forEach((name, i) => {
      if (names.indexOf(name) !== i)
        ctx.addIssue({ code: 'custom', path: ['columns', i, 'name'], message: `column ${name} is already listed` });
    });
    const marked = op.columns.flatMap((c, i) => (c.primaryKey ? [i] : []));
    marked.slice(1).forEach((i) =>
      ctx.addIssue({
        code: 'custom',
        path: ['columns', i, 'primaryKey'],
        message: 'only one column may be marked; list several in the table\'s "primaryKey"',
      }),
    );
    if (op.primaryKey && marked.length)
      ctx.addIssue({
        code: 'custom',
        path: ['primaryKey'],
        message: `columns[${marked[0]}] is already marked primaryKey; use one or the other`,
      });
    op.primaryKey?.forEach((name, i) => {
      if (!names.includes(name))
        ctx.addIssue({ code: 'custom', path: ['primaryKey', i], message: `column ${name} is not among "columns"` });
      else if (op.primaryKey!.indexOf(name) !== i)
        ctx.addIssue({ code: 'custom', path: ['primaryKey', i], message: `column ${name} is already listed` });
    });
  });

export type CreateTable = z.output<typeof createTableSchema>;
export type CreateTableInput = z.input<typeof createTableSchema>;

/** createTable needs nothing recorded: the table it creates is all there is. */
type CreateTableFacts = Record<string, never>;

/** SQLSTATE of rollback's refusal to drop a table that holds rows. */
export const TABLE_HAS_ROWS = PgshiftSqlState.tableHasRows;

function tableOf(op: CreateTable): TableRef {
  return { schema: op.schema, name: op.table };
}

function columnSql(c: CreateTable['columns'][number]): string {
  return `${ident(c.name)} ${c.type}${c.notNull ? ' NOT NULL' : ''}${c.default !== undefined ? ` DEFAULT (${c.default})` : ''}`;
}

function primaryKeyOf(op: CreateTable): string[] {
  return op.primaryKey ?? op.columns.filter((c) => c.primaryKey).map((c) => c.name);
}

/** The column definitions and the primary key, as inside CREATE TABLE's parentheses. */
function definitions(op: CreateTable): string {
  const key = primaryKeyOf(op);
  return [...op.columns.map(columnSql), ...(key.length ? [`PRIMARY KEY (${key.map(ident).join(', ')})`] : [])].join(', ');
}

export function renderCreateTable(op: CreateTable): string {
  return `CREATE TABLE ${qualified(op.schema, op.table)} (${definitions(op)})`;
}

/**
 * Rollback drops the table only while it is empty: once the app has written to it, those rows are
 * app data, and dropping them silently is never an undo. The lock comes first, so no row can
 * arrive between the check and the drop.
 */
export function renderGuardedDrop(op: CreateTable): string {
  const t = qualified(op.schema, op.table);
  const body = [
    'BEGIN',
    `  IF pg_catalog.to_regclass(${literal(t)}) IS NULL THEN RETURN; END IF;`,
    `  LOCK TABLE ${t} IN ACCESS EXCLUSIVE MODE;`,
    `  IF EXISTS (SELECT 1 FROM ${t}) THEN`,
    `    RAISE EXCEPTION USING ERRCODE = '${TABLE_HAS_ROWS}', MESSAGE = ${literal(`table ${describeRef(tableOf(op))} has rows; rollback does not drop app data`)},`,
    `      HINT = ${literal('delete the rows first if they may go, or keep the table and write a migration that drops it')};`,
    '  END IF;',
    `  DROP TABLE ${t};`,
    'END',
  ].join('\n');
  return `DO ${dollarQuote(`\n${body}\n`)}`;
}

function steps(op: CreateTable, _facts: CreateTableFacts, _names: ObjectNames, index: number): OperationSteps {
  const table = tableOf(op);
  const where = describeRef(table);
  const t = literal(qualified(op.schema, op.table));
  return {
    expand: [
      {
        id: `${index}.expand.create-table`,
        description: `create table ${where} (new and empty: no other table is locked)`,
        sql: renderCreateTable(op),
        lock: 'none',
        table: null,
        tx: 'phase',
      },
    ],
    dualWrite: [],
    backfill: [],
    afterBackfill: [],
    verify: [],
    checks: [
      {
        id: `${index}.verify.table-present`,
        description: `table ${where} (created by expand) is present`,
        sql: `SELECT pg_catalog.to_regclass(${t}) IS NOT NULL AS ok, CASE WHEN pg_catalog.to_regclass(${t}) IS NULL THEN ${literal(`table ${where} is missing`)} END AS detail`,
      },
    ],
    contract: [],
    rollback: [
      {
        id: `${index}.rollback.drop-table`,
        description: `drop table ${where} if it is still empty (refused if it has rows)`,
        sql: renderGuardedDrop(op),
        lock: 'ACCESS EXCLUSIVE',
        table,
        tx: 'phase',
      },
    ],
    triggers: [],
  };
}

/**
 * PostgreSQL's verdict on a definition, or null: tried as a temporary table in a transaction that
 * is rolled back, over the extended protocol (one statement only). Null too when the session may
 * not create temporary tables; then expand is where such an error shows.
 */
async function tryDefinition(db: Queryable, sql: string): Promise<string | null> {
  return inRolledBackTransaction(db, async (c) => {
    const [row] = await queryRows<{ temp: boolean }>(
      c,
      `SELECT pg_catalog.has_database_privilege(pg_catalog.current_database(), 'TEMPORARY') AS temp`,
    );
    if (!row?.temp) return null;
    try {
      await c.query(singleStatement(sql));
      return null;
    } catch (error) {
      if (!(error instanceof pg.DatabaseError)) throw error;
      return error.message;
    }
  });
}

async function inspect(db: Queryable, op: CreateTable, path: string) {
  const problems: PlanProblem[] = [];
  const [schema] = await queryRows<{ ok: boolean }>(db, `SELECT pg_catalog.to_regnamespace($1) IS NOT NULL AS ok`, [ident(op.schema)]);
  if (!schema?.ok) problems.push({ path: `${path}.schema`, message: `schema ${op.schema} does not exist` });
  const taken = await findRelation(db, op.schema, op.table);
  if (taken)
    problems.push({ path: `${path}.table`, message: `${describeRef(tableOf(op))} already exists (a ${relkindName(taken.relkind)})` });
  // Each column alone first, so a bad type or default is reported at its own path.
  for (const [i, c] of op.columns.entries()) {
    const error = await tryDefinition(db, `CREATE TEMPORARY TABLE pgshift_trial (${columnSql(c)})`);
    if (error) problems.push({ path: `${path}.columns[${i}]`, message: `CREATE TABLE would fail: ${error}` });
  }
  if (!problems.length) {
    const error = await tryDefinition(db, `CREATE TEMPORARY TABLE pgshift_trial (${definitions(op)})`);
    if (error) problems.push({ path: `${path}.${op.primaryKey ? 'primaryKey' : 'columns'}`, message: `CREATE TABLE would fail: ${error}` });
  }
  return { facts: problems.length ? null : {}, problems };
}

async function drift(db: Queryable, op: CreateTable, _facts: CreateTableFacts, _names: ObjectNames, completed: readonly string[]) {
  if (!completed.includes('expand') || completed.includes('contract')) return [];
  return (await findRelation(db, op.schema, op.table)) ? [] : [`table ${describeRef(tableOf(op))} (created by expand) is missing`];
}

export const createTableHandler: OperationHandler<CreateTable, CreateTableFacts> = {
  describe: (op) => `create table ${describeRef(tableOf(op))} (${op.columns.map((c) => c.name).join(', ')})`,
  columns: (op) => [
    { schema: op.schema, table: op.table, column: '(table)' },
    ...op.columns.map((c) => ({ schema: op.schema, table: op.table, column: c.name })),
  ],
  inspect,
  steps,
  drift,
};

/**
 * The comment a committed-first CREATE TABLE leaves on its table until its expand commits: it says
 * pgshift made the table for this very definition, and that the expand has not finished.
 */
function expandMarker(op: CreateTable): string {
  const hash = createHash('sha256').update(renderCreateTable(op)).digest('hex').slice(0, 12);
  return `pgshift: created by an unfinished expand (${hash})`;
}

/**
 * When later operations build on the table, the CREATE TABLE is committed first, in its own
 * transaction, ahead of the phase's non-transactional steps (a CREATE INDEX CONCURRENTLY on it
 * would otherwise run before the phase transaction that creates it). It marks the table in that
 * same transaction, and the phase transaction removes the mark: if expand fails in between, the
 * rerun recognises the table as its own (leftByEarlierExpand) and skips the step.
 */
function expandFirst(op: CreateTable, s: OperationSteps): OperationSteps {
  const t = qualified(op.schema, op.table);
  const where = describeRef(tableOf(op));
  return {
    ...s,
    expand: [
      ...s.expand.map((step) => ({
        ...step,
        tx: 'own' as const,
        description: `${step.description}; committed first, as later operations build on ${where}`,
        sql: `DO ${dollarQuote(`\nBEGIN\n  ${step.sql};\n  COMMENT ON TABLE ${t} IS ${literal(expandMarker(op))};\nEND\n`)}`,
        skipIf: `SELECT pg_catalog.to_regclass(${literal(t)}) IS NOT NULL AS done`,
      })),
      {
        id: `${s.expand[0]!.id}-done`,
        description: `unmark ${where}: its expand is done`,
        sql: `COMMENT ON TABLE ${t} IS NULL`,
        lock: 'SHARE UPDATE EXCLUSIVE',
        table: tableOf(op),
        tx: 'phase',
      },
    ],
  };
}

/**
 * Left by an earlier expand of this migration: the table carries this definition's mark (so
 * pgshift created it for this operation and its expand never committed), this migration has an
 * expand run in the ledger, and the table still has exactly the shape the definition gives.
 */
async function leftByEarlierExpand(db: Queryable, op: CreateTable, migrationId: string): Promise<boolean> {
  const t = qualified(op.schema, op.table);
  const runs = `${ident(PGSHIFT_SCHEMA)}.phase_runs`;
  const [mark] = await queryRows<{ marked: boolean; ledger: boolean }>(
    db,
    `SELECT pg_catalog.obj_description(pg_catalog.to_regclass($1), 'pg_class') IS NOT DISTINCT FROM $2 AS marked, pg_catalog.to_regclass($3) IS NOT NULL AS ledger`,
    [t, expandMarker(op), runs],
  );
  if (!mark?.marked || !mark.ledger) return false;
  const [row] = await queryRows<{ marked: boolean }>(
    db,
    `SELECT EXISTS (SELECT 1 FROM ${runs} WHERE migration_id = $1 AND phase = 'expand' AND action = 'apply') AS marked`,
    [migrationId],
  );
  if (!row?.marked) return false;
  const live = await tableShape(db, t);
  const wanted = await inRolledBackTransaction(db, async (c) => {
    await c.query(singleStatement(`CREATE TEMPORARY TABLE pgshift_trial (${definitions(op)})`));
    return tableShape(c, 'pg_temp.pgshift_trial');
  });
  return live !== null && JSON.stringify(live) === JSON.stringify(wanted);
}

export const createTableOperation = defineOperation({
  schema: createTableSchema,
  handler: createTableHandler,
  createdByExpand: 'table',
  scaffoldCreates: 'table',
  expandFirst,
  leftByEarlierExpand,
});
