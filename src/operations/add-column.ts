import { z } from 'zod';
import { identifier, required, sqlText, tableFields } from '../plan/fields.js';
import { describeRef, findTable, type TableRef } from '../catalog/introspect.js';
import { queryRows, type Queryable } from '../db/queryable.js';
import { onTrialCopy } from '../db/rolled-back.js';
import type { PlanProblem } from '../errors.js';
import { ident, literal, qualified } from '../sql/ident.js';
import { notNullViaCheck } from './blocks/not-null.js';
import { rowTrigger, rowTriggerDrift } from './blocks/row-trigger.js';
import type { BatchKey, DdlStep, ObjectNames, OperationSteps } from '../plan/steps.js';
import type { OperationHandler } from './operation.js';
import { tableProblems } from './blocks/table-checks.js';
import { defineOperation } from './operation.js';

export const addColumnSchema = z.strictObject(
  {
    kind: z.literal('addColumn'),
    ...tableFields,
    column: identifier,
    /** A SQL type (`text`, `numeric(12,2)`, `text COLLATE "C"`), tried by inspect. */
    type: sqlText,
    /** SQL expression for the column default (new rows); existing rows get it too. */
    default: sqlText.optional(),
    /** NOT NULL, enforced at contract once verification finds no NULL row. */
    notNull: z.boolean({ error: required('a boolean') }).default(false),
    /**
     * SQL expression over the row's columns computing the value of existing rows, and of rows
     * written without it until contract (the old app does not know the column).
     */
    backfill: sqlText.optional(),
  },
  { error: required('an object') },
);

export type AddColumn = z.output<typeof addColumnSchema>;
export type AddColumnInput = z.input<typeof addColumnSchema>;

/** addColumn: the batch key (null when nothing is backfilled or verified), and PostgreSQL's verdict on the default. */
export interface AddColumnFacts {
  key: BatchKey | null;
  /** ADD COLUMN … DEFAULT would rewrite the table (atthasmissing stays false on a trial copy). */
  volatileDefault: boolean;
}

/** How long inspect waits for ACCESS SHARE on the table to copy its shape. */

function tableOf(op: AddColumn): TableRef {
  return { schema: op.schema, name: op.table };
}

/** The value existing rows (and rows written without one) get, if any. */
function fillOf(op: AddColumn, facts: AddColumnFacts): string | null {
  if (op.backfill !== undefined) return op.backfill;
  return op.default !== undefined && facts.volatileDefault ? op.default : null;
}

/**
 * Body of the dual-write trigger: a row written without the new column gets the backfill
 * expression, evaluated over the row under the table's name (so `price * qty` and
 * `orders.price * orders.qty` both read NEW). Column names win over PL/pgSQL variables.
 */
export function computeFunctionBody(table: string, column: string, expression: string): string {
  const c = `NEW.${ident(column)}`;
  return [
    '#variable_conflict use_column',
    'BEGIN',
    `  IF ${c} IS NULL THEN`,
    `    ${c} := (SELECT (${expression}) FROM (SELECT (NEW).*) AS ${ident(table)});`,
    '  END IF;',
    '  RETURN NEW;',
    'END',
  ].join('\n');
}

function steps(op: AddColumn, facts: AddColumnFacts, names: ObjectNames, index: number): OperationSteps {
  const table = tableOf(op);
  const t = qualified(op.schema, op.table);
  const col = ident(op.column);
  const id = (phase: string, what: string) => `${index}.${phase}.${what}`;
  const fill = fillOf(op, facts);
  const step = (
    phase: string,
    what: string,
    description: string,
    sql: string,
    lock: DdlStep['lock'],
    tx: DdlStep['tx'] = 'phase',
  ): DdlStep => ({
    id: id(phase, what),
    description,
    sql,
    lock,
    table: lock === 'none' ? null : table,
    tx,
  });

  const expand: DdlStep[] = [];
  if (op.default === undefined) {
    expand.push(
      step(
        'expand',
        'add-column',
        `add ${op.column} (nullable, no default: no table rewrite)`,
        `ALTER TABLE ${t} ADD COLUMN ${col} ${op.type}`,
        'ACCESS EXCLUSIVE',
      ),
    );
  } else if (!facts.volatileDefault) {
    expand.push(
      step(
        'expand',
        'add-column',
        `add ${op.column} with a non-volatile default: existing rows read it from the catalog, no rewrite`,
        `ALTER TABLE ${t} ADD COLUMN ${col} ${op.type} DEFAULT (${op.default})`,
        'ACCESS EXCLUSIVE',
      ),
    );
  } else {
    expand.push(
      step(
        'expand',
        'add-column',
        `add ${op.column} without its volatile default (which would rewrite the table)`,
        `ALTER TABLE ${t} ADD COLUMN ${col} ${op.type}`,
        'ACCESS EXCLUSIVE',
      ),
      step(
        'expand',
        'set-default',
        'the default for rows inserted from now on; the backfill gives it to existing rows',
        `ALTER TABLE ${t} ALTER COLUMN ${col} SET DEFAULT (${op.default})`,
        'ACCESS EXCLUSIVE',
      ),
    );
  }

  const dualWrite: DdlStep[] = [];
  const dropTrigger: DdlStep[] = [];
  const rollback: DdlStep[] = [];
  const notNull = notNullViaCheck({ table, column: op.column, checkName: names.notNullCheck, index });
  if (op.notNull) rollback.push(notNull.rollback);
  if (op.backfill !== undefined) {
    const computer = rowTrigger({
      table,
      names,
      index,
      body: computeFunctionBody(op.table, op.column, op.backfill),
      purpose: `computing ${op.column} for rows written without it`,
      stop: 'stop computing the column',
      stopAtContract: 'stop computing the column: the app writes it from now on',
    });
    dualWrite.push(...computer.dualWrite);
    dropTrigger.push(...computer.contract);
    rollback.push(...computer.rollback);
  }
  rollback.push(
    step(
      'rollback',
      'drop-column',
      `drop ${op.column}, which only this migration wrote`,
      `ALTER TABLE ${t} DROP COLUMN IF EXISTS ${col}`,
      'ACCESS EXCLUSIVE',
    ),
  );

  const contract: DdlStep[] = [];
  if (op.notNull) contract.push(...notNull.contract);
  contract.push(...dropTrigger);

  const checked = op.notNull || op.default !== undefined || op.backfill !== undefined;
  const key = facts.key?.columns ?? [];
  return {
    expand,
    dualWrite,
    backfill:
      fill === null || !facts.key
        ? []
        : [{ id: `${index}.backfill`, table, key, set: [{ column: op.column, expression: `(${fill})` }], pending: `${col} IS NULL` }],
    afterBackfill: [],
    verify:
      checked && facts.key ? [{ id: `${index}.verify`, table, key, mismatch: `${col} IS NULL`, description: `${op.column} is set` }] : [],
    checks: [],
    contract,
    rollback,
    triggers: op.backfill === undefined ? [] : [{ table, name: names.trigger }],
  };
}

interface Trial {
  problems: PlanProblem[];
  volatileDefault: boolean;
}

/**
 * Everything is tried on an empty temporary copy of the table (named like it), in a transaction
 * that is rolled back, over the extended protocol (one statement each); the table itself gets
 * only ACCESS SHARE. Whether the default is volatile is PostgreSQL's own call: ADD COLUMN stores a
 * non-volatile default's value in pg_attribute (atthasmissing) instead of rewriting the table.
 */
async function trial(db: Queryable, op: AddColumn, path: string): Promise<Trial> {
  const t = qualified(op.schema, op.table);
  const copy = `pg_temp.${ident(op.table)}`;
  const col = ident(op.column);
  const problems: PlanProblem[] = [];
  return onTrialCopy(
    db,
    {
      table: t,
      copy: op.table,
      path,
      problems,
      noPrivilege: () => {
        problems.push({
          path: `${path}.type`,
          message: 'addColumn needs the TEMPORARY privilege to try the type and expressions on an empty copy of the table',
        });
        return { problems, volatileDefault: true };
      },
    },
    async ({ client: c, attempt }) => {
      if (!(await attempt('type', `SELECT NULL::${op.type}`))) return { problems, volatileDefault: true };
      if (!(await attempt('type', `ALTER TABLE ${copy} ADD COLUMN ${col} ${op.type}`))) return { problems, volatileDefault: true };
      let volatileDefault = false;
      if (op.default !== undefined && (await attempt('default', `ALTER TABLE ${copy} ALTER COLUMN ${col} SET DEFAULT (${op.default})`))) {
        await c.query(`ALTER TABLE ${copy} DROP COLUMN ${col}`);
        await c.query(`ALTER TABLE ${copy} ADD COLUMN ${col} ${op.type} DEFAULT (${op.default})`);
        const [row] = await queryRows<{ missing: boolean }>(
          c,
          `SELECT atthasmissing AS missing FROM pg_catalog.pg_attribute WHERE attrelid = ${literal(copy)}::regclass AND attname = $1`,
          [op.column],
        );
        volatileDefault = !row?.missing;
      }
      if (op.backfill !== undefined) {
        // The backfill's UPDATE, and the trigger's form of it.
        if (await attempt('backfill', `EXPLAIN UPDATE ${copy} SET ${col} = (${op.backfill})`)) {
          await attempt('backfill', `EXPLAIN SELECT (SELECT (${op.backfill}) FROM (SELECT (NULL::${copy}).*) AS ${ident(op.table)})`);
        }
      }
      return { problems, volatileDefault };
    },
  );
}

async function inspect(db: Queryable, op: AddColumn, path: string) {
  const problems: PlanProblem[] = [];
  const where = describeRef(tableOf(op));
  const table = await findTable(db, tableOf(op));
  if (!table) {
    problems.push({ path: `${path}.table`, message: `table ${where} does not exist` });
    return { facts: null, problems };
  }
  const needsKey = op.notNull || op.default !== undefined || op.backfill !== undefined;
  problems.push(...tableProblems(table, { kind: 'addColumn', path, typed: true, key: needsKey ? 'batch the backfill' : null }));
  if (table.columns.some((c) => c.name === op.column))
    problems.push({ path: `${path}.column`, message: `column ${op.column} already exists in ${where}` });
  if (problems.length) return { facts: null, problems };
  const tried = await trial(db, op, path);
  problems.push(...tried.problems);
  if (problems.length) return { facts: null, problems };
  return { facts: { key: table.key, volatileDefault: tried.volatileDefault }, problems };
}

async function drift(db: Queryable, op: AddColumn, _facts: AddColumnFacts, names: ObjectNames, completed: readonly string[]) {
  const where = describeRef(tableOf(op));
  const table = await findTable(db, tableOf(op));
  if (!table) return [`table ${where} is gone`];
  if (completed.includes('contract')) return [];
  const problems: string[] = [];
  if (completed.includes('expand') && !table.columns.some((c) => c.name === op.column))
    problems.push(`column ${op.column} (added by expand) is missing from ${where}`);
  if (op.backfill !== undefined && completed.includes('dual-write')) {
    problems.push(...(await rowTriggerDrift(db, tableOf(op), names)));
  }
  return problems;
}

export const addColumnHandler: OperationHandler<AddColumn, AddColumnFacts> = {
  describe: (op) => `add column ${op.column} to ${describeRef(tableOf(op))}`,
  // The columns the backfill expression reads are inside its SQL text, which is not parsed here.
  columns: (op) => [{ schema: op.schema, table: op.table, column: op.column }],
  inspect,
  steps,
  drift,
};

export const addColumnOperation = defineOperation({
  schema: addColumnSchema,
  handler: addColumnHandler,
  createdByExpand: 'column',
  scaffoldCreates: 'column',
});
