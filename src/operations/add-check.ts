import { z } from 'zod';
import { identifier, required, sqlText, tableFields } from '../plan/fields.js';
import pg from 'pg';
import { describeRef, type TableRef } from '../catalog/introspect.js';
import { queryRows, type Queryable } from '../db/queryable.js';
import { inTrialTransaction, singleStatement, TRIAL_LOCK_TIMEOUT_MS } from '../db/rolled-back.js';
import { LockTimeoutError, SqlState, sqlStateOf } from '../errors.js';
import { ident, qualified } from '../sql/ident.js';
import {
  constraintDrift,
  constraintKey,
  dropStep,
  inspectTarget,
  presentCheck,
  validateStep,
  type ConstraintRef,
} from './blocks/constraint-steps.js';
import type { BatchKey, ObjectNames, OperationSteps } from '../plan/steps.js';
import type { OperationHandler } from './operation.js';
import { defineOperation } from './operation.js';

export const addCheckSchema = z.strictObject(
  {
    kind: z.literal('addCheck'),
    ...tableFields,
    /** Name of the new constraint. */
    name: identifier,
    /**
     * A boolean SQL expression over the table's columns, written by the plan author and trusted as
     * such: it is inserted verbatim inside parentheses, never rewritten. Inspect checks it against
     * the live table before anything runs.
     */
    check: sqlText,
  },
  { error: required('an object') },
);

export type AddCheck = z.output<typeof addCheckSchema>;
export type AddCheckInput = z.input<typeof addCheckSchema>;

/** The key verification reads the table's existing rows on. */
export interface AddCheckFacts {
  key: BatchKey;
}

function tableOf(op: AddCheck): TableRef {
  return { schema: op.schema, name: op.table };
}

function constraintOf(op: AddCheck): ConstraintRef {
  return { table: tableOf(op), name: op.name, type: 'c' };
}

/**
 * The user's expression is trusted SQL from the plan author: it goes verbatim inside parentheses,
 * in the CHECK and in verification's predicate, and is never rewritten. Inspect has PostgreSQL
 * parse it in both places before anything runs.
 */
function steps(op: AddCheck, facts: AddCheckFacts, _names: ObjectNames, index: number): OperationSteps {
  const table = tableOf(op);
  const c = constraintOf(op);
  return {
    expand: [
      {
        id: `${index}.expand.add-check`,
        description: `add CHECK ${op.name} NOT VALID: enforced on every row written from now on; existing rows are not scanned`,
        sql: `ALTER TABLE ${qualified(op.schema, op.table)} ADD CONSTRAINT ${ident(op.name)} CHECK (${op.check}) NOT VALID`,
        lock: 'ACCESS EXCLUSIVE',
        table,
        tx: 'phase',
      },
    ],
    dualWrite: [],
    backfill: [],
    afterBackfill: [],
    verify: [
      {
        id: `${index}.verify`,
        table,
        key: facts.key.columns,
        // As in a CHECK, NULL passes: only rows where the expression is false violate it.
        mismatch: `(${op.check}) IS FALSE`,
        description: `check ${op.name} holds`,
      },
    ],
    checks: [presentCheck(c, index)],
    contract: [validateStep(c, index, `validate ${op.name}: scan the existing rows while reads and writes go on`)],
    rollback: [dropStep(c, index, `remove ${op.name}`)],
    triggers: [],
  };
}

/**
 * PostgreSQL's own verdict on the expression, or null when it is fine: planned as verification's
 * WHERE (a valid boolean over the table's columns), then added as a CHECK to an empty temporary
 * copy of the table (no subquery, no system column, nothing outside its parentheses), all in a
 * transaction that is rolled back. The table itself gets only ACCESS SHARE.
 */
async function tryExpression(db: Queryable, op: AddCheck): Promise<string | null> {
  const t = qualified(op.schema, op.table);
  const explain = `EXPLAIN SELECT 1 FROM ${t} WHERE (${op.check})`;
  return inTrialTransaction(db, async (c) => {
    try {
      await c.query(singleStatement(explain));
      const [row] = await queryRows<{ temp: boolean }>(
        c,
        `SELECT pg_catalog.has_database_privilege(pg_catalog.current_database(), 'TEMPORARY') AS temp`,
      );
      // Without the right to create temporary tables, expand is where a CHECK-only error shows.
      if (row?.temp) {
        await c.query(`CREATE TEMPORARY TABLE ${ident(op.table)} (LIKE ${t})`);
        await c.query(singleStatement(`ALTER TABLE pg_temp.${ident(op.table)} ADD CONSTRAINT pgshift_trial CHECK (${op.check}) NOT VALID`));
      }
      return null;
    } catch (error) {
      if (sqlStateOf(error) === SqlState.lockNotAvailable)
        throw new LockTimeoutError(explain, 1, TRIAL_LOCK_TIMEOUT_MS, [], { cause: error });
      if (!(error instanceof pg.DatabaseError)) throw error;
      return error.message;
    }
  });
}

async function inspect(db: Queryable, op: AddCheck, path: string) {
  const { table, problems } = await inspectTarget(db, { table: tableOf(op), name: op.name, kind: 'addCheck' }, path);
  if (!table) return { facts: null, problems };
  const error = await tryExpression(db, op);
  if (error) problems.push({ path: `${path}.check`, message: error });
  if (problems.length || !table.key) return { facts: null, problems };
  return { facts: { key: table.key }, problems };
}

export const addCheckHandler: OperationHandler<AddCheck, AddCheckFacts> = {
  describe: (op) => `add CHECK ${op.name} to ${describeRef(tableOf(op))}`,
  // The columns of the expression are inside its SQL text, which is not parsed here.
  columns: (op) => [constraintKey(constraintOf(op))],
  inspect,
  steps,
  drift: (db, op, _facts, _names, completed) => constraintDrift(db, constraintOf(op), completed),
};

export const addCheckOperation = defineOperation({ schema: addCheckSchema, handler: addCheckHandler, createdByExpand: 'name' });
