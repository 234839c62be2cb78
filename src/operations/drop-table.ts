import { z } from 'zod';
import { required, tableFields } from '../plan/fields.js';
import { describeRef, findTable, relkindName, type TableRef } from '../catalog/introspect.js';
import { tableDependents, tableDependentsSql } from '../catalog/table-dependents.js';
import type { Queryable } from '../db/queryable.js';
import { PgshiftSqlState, type PlanProblem } from '../errors.js';
import { dollarQuote, literal, qualified } from '../sql/ident.js';
import type { OperationHandler } from './operation.js';
import type { OperationSteps } from '../plan/steps.js';
import { defineOperation } from './operation.js';

export const dropTableSchema = z.strictObject(
  {
    kind: z.literal('dropTable'),
    ...tableFields,
  },
  { error: required('an object') },
);

export type DropTable = z.output<typeof dropTableSchema>;
export type DropTableInput = z.input<typeof dropTableSchema>;

/** dropTable needs nothing recorded: it only acts at contract, and re-reads the catalog then. */
export type DropTableFacts = Record<string, never>;

/** SQLSTATE of contract's refusal to drop a table that something has come to depend on since inspection. */
export const TABLE_HAS_DEPENDENTS = PgshiftSqlState.tableHasDependents;

function tableOf(op: DropTable): TableRef {
  return { schema: op.schema, name: op.table };
}

/**
 * DROP TABLE without CASCADE, after taking the lock and listing dependents once more in the same
 * transaction: a plain DROP would fail on most of them by itself, but would silently take
 * partitions and publication memberships along, and its error names one object where this names
 * all of them. Nothing can come to depend on the table between the check and the drop (the lock
 * is held).
 */
export function renderCheckedDrop(op: DropTable): string {
  const t = qualified(op.schema, op.table);
  const where = describeRef(tableOf(op));
  const dependents = tableDependentsSql(`${literal(t)}::pg_catalog.regclass`).replaceAll('\n', '\n    ');
  const body = [
    'DECLARE',
    '  blockers text;',
    'BEGIN',
    `  LOCK TABLE ${t} IN ACCESS EXCLUSIVE MODE;`,
    `  blockers := (SELECT pg_catalog.string_agg(what, '; ' ORDER BY what) FROM (`,
    `    ${dependents}`,
    '  ) dependents);',
    '  IF blockers IS NOT NULL THEN',
    `    RAISE EXCEPTION USING ERRCODE = '${TABLE_HAS_DEPENDENTS}', MESSAGE = ${literal(`table ${where} is not dropped: `)} || blockers,`,
    `      HINT = ${literal('drop them first (pgshift never cascades), or roll this migration back')};`,
    '  END IF;',
    `  DROP TABLE ${t};`,
    'END',
  ].join('\n');
  return `DO ${dollarQuote(`\n${body}\n`)}`;
}

/**
 * The "contract only" table operation: until contract nothing changes, so old app versions that
 * still read the table keep working and rollback has nothing to undo.
 */
function steps(op: DropTable, _facts: DropTableFacts, _names: unknown, index: number): OperationSteps {
  const table = tableOf(op);
  const where = describeRef(table);
  const t = literal(qualified(op.schema, op.table));
  const dependents = tableDependentsSql(`pg_catalog.to_regclass(${t})`);
  return {
    expand: [],
    dualWrite: [],
    backfill: [],
    afterBackfill: [],
    verify: [],
    checks: [
      {
        id: `${index}.verify.droppable`,
        description: `table ${where} is still there and nothing depends on it`,
        sql:
          `SELECT pg_catalog.to_regclass(${t}) IS NOT NULL AND d.list IS NULL AS ok, ` +
          `CASE WHEN pg_catalog.to_regclass(${t}) IS NULL THEN ${literal(`table ${where} is missing`)} ` +
          `ELSE ${literal(`cannot drop table ${where}: `)} || d.list END AS detail ` +
          `FROM (SELECT pg_catalog.string_agg(what, '; ' ORDER BY what) AS list FROM (${dependents}) dependents) d`,
      },
    ],
    contract: [
      {
        id: `${index}.contract.drop-table`,
        description: `drop table ${where} if nothing has come to depend on it (never CASCADE)`,
        sql: renderCheckedDrop(op),
        lock: 'ACCESS EXCLUSIVE',
        table,
        tx: 'phase',
      },
    ],
    rollback: [],
    triggers: [],
  };
}

async function inspect(db: Queryable, op: DropTable, path: string) {
  const where = describeRef(tableOf(op));
  const table = await findTable(db, tableOf(op));
  if (!table) return { facts: null, problems: [{ path: `${path}.table`, message: `table ${where} does not exist` }] };
  if (table.relkind !== 'r' && table.relkind !== 'p')
    return {
      facts: null,
      problems: [{ path: `${path}.table`, message: `${where} is a ${relkindName(table.relkind)}; dropTable drops tables` }],
    };
  const problems: PlanProblem[] = (await tableDependents(db, table.oid)).map((what) => ({
    path: `${path}.table`,
    message: `cannot drop ${where}: ${what} (pgshift does not cascade)`,
  }));
  return { facts: problems.length ? null : {}, problems };
}

async function drift(db: Queryable, op: DropTable, _facts: DropTableFacts, _names: unknown, completed: readonly string[]) {
  if (completed.includes('contract')) return [];
  return (await findTable(db, tableOf(op))) ? [] : [`table ${describeRef(tableOf(op))} is already gone`];
}

export const dropTableHandler: OperationHandler<DropTable, DropTableFacts> = {
  describe: (op) => `drop table ${describeRef(tableOf(op))}`,
  // The whole table: a createTable of the same name, or any operation marking its table, waits for it.
  columns: (op) => [{ schema: op.schema, table: op.table, column: '(table)' }],
  inspect,
  steps,
  drift,
};

export const dropTableOperation = defineOperation({
  schema: dropTableSchema,
  handler: dropTableHandler,
  contractRefusals: [TABLE_HAS_DEPENDENTS],
});
