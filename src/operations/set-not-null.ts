import { z } from 'zod';
import { identifier, required, sqlText, tableFields } from '../plan/fields.js';
import pg from 'pg';
import { describeRef, findTable, type TableRef } from '../catalog/introspect.js';
import { queryRows, type Queryable } from '../db/queryable.js';
import { inTrialTransaction, singleStatement, TRIAL_LOCK_TIMEOUT_MS } from '../db/rolled-back.js';
import { LockTimeoutError, SqlState, sqlStateOf, type PlanProblem } from '../errors.js';
import { ident, qualified } from '../sql/ident.js';
import { notNullViaCheck } from './blocks/not-null.js';
import { rowTrigger, rowTriggerDrift } from './blocks/row-trigger.js';
import type { BatchKey, DdlStep, ObjectNames, OperationSteps } from '../plan/steps.js';
import type { OperationHandler } from './operation.js';
import { tableProblems } from './blocks/table-checks.js';
import { defineOperation } from './operation.js';

export const setNotNullSchema = z.strictObject(
  {
    kind: z.literal('setNotNull'),
    ...tableFields,
    column: identifier,
    /**
     * A SQL expression (trusted, inserted verbatim inside parentheses) for the value of a NULL in
     * `column`: existing rows get it from the backfill, rows the old app writes with NULL get it
     * from the dual-write trigger. It cannot read the row's columns. Required when the column holds NULLs.
     */
    fill: sqlText.optional(),
  },
  { error: required('an object') },
);

export type SetNotNull = z.output<typeof setNotNullSchema>;
export type SetNotNullInput = z.input<typeof setNotNullSchema>;

/** The key setNotNull's backfill and verification batch on. */
export interface SetNotNullFacts {
  key: BatchKey;
}

function tableOf(op: SetNotNull): TableRef {
  return { schema: op.schema, name: op.table };
}

/** Body of the dual-write trigger: a NULL written by the old app becomes `fill`; any other value is kept. */
export function fillFunctionBody(column: string, fill: string): string {
  const c = `NEW.${ident(column)}`;
  return ['BEGIN', `  IF ${c} IS NULL THEN ${c} := (${fill}); END IF;`, '  RETURN NEW;', 'END'].join('\n');
}

/**
 * `fill` is trusted SQL from the plan author, inserted verbatim inside parentheses in the trigger
 * and the backfill; inspect has PostgreSQL try it in both shapes first.
 */
function steps(op: SetNotNull, facts: SetNotNullFacts, names: ObjectNames, index: number): OperationSteps {
  const table = tableOf(op);
  const col = ident(op.column);
  const notNull = notNullViaCheck({ table, column: op.column, checkName: names.notNullCheck, index });
  const fill = op.fill;

  const filler =
    fill === undefined
      ? null
      : rowTrigger({
          table,
          names,
          index,
          body: fillFunctionBody(op.column, fill),
          purpose: `replacing a NULL written to ${op.column} with the fill value`,
          stop: 'stop filling NULL writes',
          stopAtContract: 'stop filling NULL writes: the column refuses them from now on',
        });
  const dualWrite = filler?.dualWrite ?? [];
  const contract: DdlStep[] = [...notNull.contract, ...(filler?.contract ?? [])];

  const rollback: DdlStep[] = [notNull.rollback];
  if (filler) rollback.push(...filler.rollback);

  return {
    expand: [],
    dualWrite,
    backfill:
      fill === undefined
        ? []
        : [
            {
              id: `${index}.backfill`,
              table,
              key: facts.key.columns,
              set: [{ column: op.column, expression: `(${fill})` }],
              pending: `${col} IS NULL`,
            },
          ],
    afterBackfill: [],
    verify: [{ id: `${index}.verify`, table, key: facts.key.columns, mismatch: `${col} IS NULL`, description: `${op.column} is not NULL` }],
    checks: [],
    contract,
    rollback,
    triggers: fill === undefined ? [] : [{ table, name: names.trigger }],
  };
}

/**
 * PostgreSQL's verdict on `fill` (null when fine) and whether the column holds NULLs, in a
 * transaction that is rolled back. `SELECT (fill)` without FROM refuses a column reference (the
 * trigger could not evaluate one); `EXPLAIN UPDATE … SET col = (fill) WHERE false` checks it is
 * assignable to the column's type, as the trigger's and the backfill's assignments need.
 */
async function tryOnTable(db: Queryable, op: SetNotNull): Promise<{ fillError: string | null; hasNulls: boolean }> {
  const t = qualified(op.schema, op.table);
  const col = ident(op.column);
  return inTrialTransaction(db, async (c) => {
    const guard = async <T>(sql: string, fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (error) {
        if (sqlStateOf(error) === SqlState.lockNotAvailable)
          throw new LockTimeoutError(sql, 1, TRIAL_LOCK_TIMEOUT_MS, [], { cause: error });
        throw error;
      }
    };
    const nullsSql = `SELECT EXISTS (SELECT 1 FROM ${t} WHERE ${col} IS NULL) AS nulls`;
    const [row] = await guard(nullsSql, () => queryRows<{ nulls: boolean }>(c, nullsSql));
    const hasNulls = row?.nulls ?? false;
    if (op.fill === undefined) return { fillError: null, hasNulls };
    await c.query('SAVEPOINT pgshift_fill');
    const update = `EXPLAIN UPDATE ${t} SET ${col} = (${op.fill}) WHERE false`;
    try {
      await c.query(singleStatement(`SELECT (${op.fill})`));
      await guard(update, () => c.query(singleStatement(update)));
      return { fillError: null, hasNulls };
    } catch (error) {
      if (!(error instanceof pg.DatabaseError)) throw error;
      return { fillError: error.message, hasNulls };
    } finally {
      await c.query('ROLLBACK TO SAVEPOINT pgshift_fill');
    }
  });
}

async function inspect(db: Queryable, op: SetNotNull, path: string) {
  const problems: PlanProblem[] = [];
  const where = describeRef(tableOf(op));
  const table = await findTable(db, tableOf(op));
  if (!table) {
    problems.push({ path: `${path}.table`, message: `table ${where} does not exist` });
    return { facts: null, problems };
  }
  problems.push(...tableProblems(table, { kind: 'setNotNull', path, typed: false, key: 'batch the backfill' }));
  const column = table.columns.find((c) => c.name === op.column);
  if (!column) {
    problems.push({ path: `${path}.column`, message: `column ${op.column} does not exist in ${where}` });
    return { facts: null, problems };
  }
  if (column.notNull) problems.push({ path: `${path}.column`, message: `${op.column} in ${where} is already NOT NULL` });
  if (column.generated)
    problems.push({ path: `${path}.column`, message: `${op.column} is a generated column; its value cannot be filled` });
  const { fillError, hasNulls } = await tryOnTable(db, op);
  if (fillError !== null) problems.push({ path: `${path}.fill`, message: fillError });
  if (hasNulls && op.fill === undefined) {
    problems.push({ path: `${path}.fill`, message: `${op.column} in ${where} has NULLs: give fill, the value they take` });
  }
  if (problems.length || !table.key) return { facts: null, problems };
  return { facts: { key: table.key }, problems };
}

async function drift(db: Queryable, op: SetNotNull, _facts: SetNotNullFacts, names: ObjectNames, completed: readonly string[]) {
  const where = describeRef(tableOf(op));
  const table = await findTable(db, tableOf(op));
  if (!table) return [`table ${where} is gone`];
  if (completed.includes('contract')) return [];
  const problems: string[] = [];
  if (!table.columns.some((c) => c.name === op.column)) problems.push(`column ${op.column} is missing from ${where}`);
  if (op.fill !== undefined && completed.includes('dual-write')) {
    problems.push(...(await rowTriggerDrift(db, tableOf(op), names)));
  }
  return problems;
}

export const setNotNullHandler: OperationHandler<SetNotNull, SetNotNullFacts> = {
  describe: (op) => `set ${describeRef(tableOf(op))}.${op.column} NOT NULL`,
  columns: (op) => [{ schema: op.schema, table: op.table, column: op.column }],
  inspect,
  steps,
  drift,
};

export const setNotNullOperation = defineOperation({ schema: setNotNullSchema, handler: setNotNullHandler });
