import { z } from 'zod';
import { identifier, required, sqlText, tableFields } from '../plan/fields.js';
import { expressionColumns, SqlTextError } from '../sql/parser.js';
import { columnDependents, describeRef, findTable, type TableRef } from '../catalog/introspect.js';
import type { Queryable } from '../db/queryable.js';
import { onTrialCopy } from '../db/rolled-back.js';
import type { PlanProblem } from '../errors.js';
import { ident, qualified } from '../sql/ident.js';
import { rewriteColumns } from '../sql/parser.js';
import { rowTrigger, rowTriggerDrift } from './blocks/row-trigger.js';
import type { BatchKey, DdlStep, ObjectNames, OperationSteps } from '../plan/steps.js';
import type { OperationHandler } from './operation.js';
import { tableProblems } from './blocks/table-checks.js';
import { defineOperation } from './operation.js';

const target = z.strictObject(
  {
    name: identifier,
    /** A SQL type (`text`, `varchar(80)`, `int`), tried by inspect. */
    type: sqlText,
    /**
     * SQL expression over the table's existing columns computing this column from the old one
     * (`split_part(full_name, ' ', 1)`). Its result is cast to `type`.
     */
    up: sqlText,
  },
  { error: required('an object') },
);

export const splitColumnSchema = z
  .strictObject(
    {
      kind: z.literal('splitColumn'),
      ...tableFields,
      /** The column being split. */
      column: identifier,
      into: z.array(target, { error: required('an array of columns') }).min(2, { error: 'must list at least two columns' }),
      /**
       * SQL expression over the new columns (and other existing ones, never `column` itself)
       * computing the old column from them (`concat_ws(' ', first_name, last_name)`), for writes
       * of the new app version while the old one still reads `column`. Cast to its type.
       */
      down: sqlText,
      /** Contract drops `column` (default). With false it stays, no longer kept in sync. */
      dropOld: z.boolean({ error: required('true or false') }).default(true),
    },
    { error: required('an object') },
  )
  .superRefine((op, ctx) => {
    const names = op.into.map((c) => c.name);
    names.forEach((name, i) => {
      if (name === op.column) ctx.addIssue({ code: 'custom', path: ['into', i, 'name'], message: `is the column being split` });
      else if (names.indexOf(name) !== i)
        ctx.addIssue({ code: 'custom', path: ['into', i, 'name'], message: `column ${name} is already listed` });
    });
    // What each expression may name is settled here, by PostgreSQL's parser; whether the names
    // exist in the table is inspect's business.
    const columnsOf = (expression: string, path: (string | number)[]): string[] | null => {
      try {
        return expressionColumns(expression).map((r) => r.name);
      } catch (error) {
        if (!(error instanceof SqlTextError)) throw error;
        ctx.addIssue({ code: 'custom', path, message: error.message });
        return null;
      }
    };
    const added = names.filter((n) => n !== op.column);
    op.into.forEach((c, i) => {
      for (const name of columnsOf(c.up, ['into', i, 'up']) ?? [])
        if (added.includes(name))
          ctx.addIssue({
            code: 'custom',
            path: ['into', i, 'up'],
            message: `uses ${name}, a new column; "up" computes the new columns from the existing ones`,
          });
    });
    for (const name of columnsOf(op.down, ['down']) ?? [])
      if (name === op.column)
        ctx.addIssue({
          code: 'custom',
          path: ['down'],
          message: `uses ${name}, the column it computes; "down" reads the new columns (and other existing ones)`,
        });
  });

export type SplitColumn = z.output<typeof splitColumnSchema>;
export type SplitColumnInput = z.input<typeof splitColumnSchema>;

/** splitColumn: the batch key, and the old column's type and collation (`down` is cast to them). */
export interface SplitColumnFacts {
  key: BatchKey;
  type: string;
  collation: { schema: string; name: string } | null;
}

/** How long inspect waits for ACCESS SHARE on the table to copy its shape. */
const TRIAL_TABLE = 'pgshift_split_trial';
/** Rows `up` is tried on at inspect. */
const SAMPLE_ROWS = 100;

function tableOf(op: SplitColumn): TableRef {
  return { schema: op.schema, name: op.table };
}

/**
 * The SQL of each expression, cast to its column's type, over the row either as the table's
 * columns (`row`: backfill and verification) or as the trigger's NEW (`trigger`).
 */
export function splitExpressions(op: SplitColumn, facts: SplitColumnFacts, form: 'row' | 'trigger') {
  const ref = (c: string) => (form === 'trigger' ? `NEW.${ident(c)}` : ident(c));
  const expr = (text: string) => (form === 'trigger' ? rewriteColumns(text, (c) => `NEW.${ident(c)}`) : text);
  const collate = facts.collation ? ` COLLATE ${qualified(facts.collation.schema, facts.collation.name)}` : '';
  const news = op.into.map((c) => ref(c.name));
  const ups = op.into.map((c) => `CAST((${expr(c.up)}) AS ${c.type})`);
  const down = `CAST((${expr(op.down)}) AS ${facts.type})${collate}`;
  const newDiffersFromUp = `(${news.join(', ')}) IS DISTINCT FROM (${ups.join(', ')})`;
  return {
    old: ref(op.column),
    news,
    ups,
    down,
    /** The new columns are not what `up` makes of the old one. */
    newDiffersFromUp,
    /** Neither direction holds: the row is not in sync (not backfilled yet, or diverged). */
    outOfSync: `${newDiffersFromUp} AND ${ref(op.column)} IS DISTINCT FROM ${down}`,
  };
}

/**
 * Body of the dual-write trigger. A row is in sync when the new columns are `up` of the old one,
 * or the old one is `down` of the new ones: `up` and `down` need not be inverses (`Mary Ann` +
 * `Smith` makes `Mary Ann Smith`, whose `up` is `Mary` + `Ann Smith`), so a value is never
 * recomputed from a value that was computed from it. Per row, without recursion (it only assigns
 * NEW, never issues an UPDATE):
 * - INSERT: no new column given: the new ones take `up` (the old app wrote, or nobody did).
 *   Otherwise the new app wrote, and the old column takes `down` unless the new values already
 *   are `up` of the old one.
 * - UPDATE that changes a new column: the new app wrote; the old column takes `down` unless the
 *   new values are `up` of it (the backfill's own UPDATE is exactly that case, so it never
 *   rewrites the old column). A new column wins over the old one when both change.
 * - UPDATE that changes only the old column (the old app), or leaves a row out of sync: the new
 *   columns take `up`.
 */
export function splitFunctionBody(op: SplitColumn, facts: SplitColumnFacts): string {
  const e = splitExpressions(op, facts, 'trigger');
  const olds = op.into.map((c) => `OLD.${ident(c.name)}`);
  const assignNew = e.news.map((n, i) => `${n} := ${e.ups[i]};`).join(' ');
  return [
    'BEGIN',
    `  IF TG_OP = 'INSERT' THEN`,
    `    IF ${e.news.map((n) => `${n} IS NULL`).join(' AND ')} THEN`,
    `      ${assignNew}`,
    `    ELSIF ${e.newDiffersFromUp} THEN`,
    `      ${e.old} := ${e.down};`,
    '    END IF;',
    `  ELSIF (${e.news.join(', ')}) IS DISTINCT FROM (${olds.join(', ')}) THEN`,
    `    IF ${e.newDiffersFromUp} THEN`,
    `      ${e.old} := ${e.down};`,
    '    END IF;',
    `  ELSIF ${e.old} IS DISTINCT FROM OLD.${ident(op.column)} OR (${e.outOfSync}) THEN`,
    `    ${assignNew}`,
    '  END IF;',
    '  RETURN NEW;',
    'END',
  ].join('\n');
}

function steps(op: SplitColumn, facts: SplitColumnFacts, names: ObjectNames, index: number): OperationSteps {
  const table = tableOf(op);
  const t = qualified(op.schema, op.table);
  const list = op.into.map((c) => c.name).join(', ');
  const step = (phase: string, what: string, description: string, sql: string): DdlStep => ({
    id: `${index}.${phase}.${what}`,
    description,
    sql,
    lock: 'ACCESS EXCLUSIVE',
    table,
    tx: 'phase',
  });
  const sync = rowTrigger({
    table,
    names,
    index,
    body: splitFunctionBody(op, facts),
    purpose: `keeping ${list} and ${op.column} in sync (up and down)`,
    stop: 'stop dual-writing',
  });
  const row = splitExpressions(op, facts, 'row');
  return {
    expand: [
      step(
        'expand',
        'add-columns',
        `add ${list} beside ${op.column} (nullable, no default: no table rewrite)`,
        `ALTER TABLE ${t} ${op.into.map((c) => `ADD COLUMN ${ident(c.name)} ${c.type}`).join(', ')}`,
      ),
    ],
    dualWrite: sync.dualWrite,
    backfill: [
      {
        id: `${index}.backfill`,
        table,
        key: facts.key.columns,
        set: op.into.map((c, i) => ({ column: c.name, expression: row.ups[i]! })),
        pending: row.outOfSync,
      },
    ],
    afterBackfill: [],
    verify: [
      {
        id: `${index}.verify`,
        table,
        key: facts.key.columns,
        mismatch: row.outOfSync,
        description: `${list} are up(${op.column}), or ${op.column} is down(${list})`,
      },
    ],
    checks: [],
    contract: [
      ...sync.contract,
      ...(op.dropOld
        ? [
            step(
              'contract',
              'drop-old-column',
              `drop ${op.column} (metadata only, no rewrite)`,
              `ALTER TABLE ${t} DROP COLUMN ${ident(op.column)}`,
            ),
          ]
        : []),
    ],
    rollback: [
      ...sync.rollback,
      step(
        'rollback',
        'drop-new-columns',
        `drop ${list}; every value written to them was mirrored into ${op.column}`,
        `ALTER TABLE ${t} ${op.into.map((c) => `DROP COLUMN IF EXISTS ${ident(c.name)}`).join(', ')}`,
      ),
    ],
    triggers: [{ table, name: names.trigger }],
  };
}

/**
 * PostgreSQL's verdict on the types and expressions: each tried on an empty temporary copy of the
 * table with the new columns added, and `up` on a sample of the table's rows, in a transaction
 * that is rolled back, one statement each over the extended protocol. The table itself gets only
 * ACCESS SHARE.
 */
async function trial(db: Queryable, op: SplitColumn, facts: SplitColumnFacts, path: string): Promise<PlanProblem[]> {
  const problems: PlanProblem[] = [];
  const copy = `pg_temp.${ident(TRIAL_TABLE)}`;
  return onTrialCopy(
    db,
    {
      table: qualified(op.schema, op.table),
      copy: TRIAL_TABLE,
      path,
      problems,
      noPrivilege: () => [
        {
          path: `${path}.into`,
          message: 'splitColumn needs the TEMPORARY privilege to try the types and expressions on an empty copy of the table',
        },
      ],
    },
    async ({ attempt }) => {
      for (const [i, col] of op.into.entries()) {
        if (await attempt(`into[${i}].type`, `SELECT NULL::${col.type}`))
          await attempt(`into[${i}].type`, `ALTER TABLE ${copy} ADD COLUMN ${ident(col.name)} ${col.type}`);
      }
      if (problems.length) return problems;
      const row = splitExpressions(op, facts, 'row');
      for (const [i] of op.into.entries()) await attempt(`into[${i}].up`, `EXPLAIN SELECT ${row.ups[i]} FROM ${copy}`);
      await attempt('down', `EXPLAIN SELECT ${row.down} FROM ${copy}`);
      if (problems.length) return problems;
      // Types are checked above; values only by running them: on the first rows in key order, a
      // sample that finds the common mistakes (a cast that most rows fail) before expand, not mid-backfill.
      const order = facts.key.columns.map((k) => ident(k.name)).join(', ');
      for (const [i] of op.into.entries())
        await attempt(
          `into[${i}].up`,
          `SELECT count(s.v) FROM (SELECT ${row.ups[i]} AS v FROM ${qualified(op.schema, op.table)} ORDER BY ${order} LIMIT ${SAMPLE_ROWS}) s`,
        );
      if (problems.length) return problems;
      // The comparisons of the backfill, the verification and the trigger (a type without equality fails here).
      await attempt(
        'into',
        `EXPLAIN UPDATE ${copy} SET ${op.into.map((col, i) => `${ident(col.name)} = ${row.ups[i]}`).join(', ')} WHERE ${row.outOfSync}`,
      );
      return problems;
    },
  );
}

async function inspect(db: Queryable, op: SplitColumn, path: string) {
  const problems: PlanProblem[] = [];
  const where = describeRef(tableOf(op));
  const table = await findTable(db, tableOf(op));
  if (!table) return { facts: null, problems: [{ path: `${path}.table`, message: `table ${where} does not exist` }] };
  problems.push(...tableProblems(table, { kind: 'splitColumn', path, typed: true, key: 'batch the backfill' }));
  const existing = new Set(table.columns.map((c) => c.name));
  op.into.forEach((c, i) => {
    if (existing.has(c.name)) problems.push({ path: `${path}.into[${i}].name`, message: `column ${c.name} already exists in ${where}` });
  });
  const column = table.columns.find((c) => c.name === op.column);
  if (!column) problems.push({ path: `${path}.column`, message: `column ${op.column} does not exist in ${where}` });
  op.into.forEach((c, i) => {
    for (const ref of new Set(expressionColumns(c.up).map((r) => r.name)))
      if (!existing.has(ref)) problems.push({ path: `${path}.into[${i}].up`, message: `column ${ref} does not exist in ${where}` });
  });
  const newNames = new Set(op.into.map((c) => c.name));
  for (const ref of new Set(expressionColumns(op.down).map((r) => r.name)))
    if (!existing.has(ref) && !newNames.has(ref))
      problems.push({ path: `${path}.down`, message: `column ${ref} is neither a new column nor one of ${where}` });
  if (column) {
    const cannot = (what: string) =>
      problems.push({ path: `${path}.column`, message: `${op.column} has ${what}, which splitColumn cannot carry over` });
    if (column.identity) cannot('an identity (GENERATED ... AS IDENTITY)');
    if (column.generated) cannot('a generation expression (GENERATED ALWAYS AS ...); the trigger could not write it');
    if (column.hasColumnPrivileges) cannot('column-level privileges (GRANT ... (column)) the new columns would not get');
    // With the old column kept, whatever depends on it stays valid.
    if (op.dropOld)
      for (const dependent of await columnDependents(db, table.oid, column.attnum)) cannot(`a dependent object: ${dependent}`);
  }
  if (problems.length || !table.key || !column) return { facts: null, problems };
  const facts: SplitColumnFacts = { key: table.key, type: column.type, collation: column.collation };
  problems.push(...(await trial(db, op, facts, path)));
  return { facts: problems.length ? null : facts, problems };
}

async function drift(db: Queryable, op: SplitColumn, _facts: SplitColumnFacts, names: ObjectNames, completed: readonly string[]) {
  const where = describeRef(tableOf(op));
  const table = await findTable(db, tableOf(op));
  if (!table) return [`table ${where} is gone`];
  if (completed.includes('contract')) return [];
  const problems: string[] = [];
  const has = (c: string) => table.columns.some((col) => col.name === c);
  if (!has(op.column)) problems.push(`column ${op.column} is missing from ${where}`);
  if (completed.includes('expand'))
    for (const c of op.into) if (!has(c.name)) problems.push(`column ${c.name} (added by expand) is missing from ${where}`);
  if (completed.includes('dual-write')) {
    problems.push(...(await rowTriggerDrift(db, tableOf(op), names)));
  }
  return problems;
}

export const splitColumnHandler: OperationHandler<SplitColumn, SplitColumnFacts> = {
  describe: (op) => `split ${describeRef(tableOf(op))}.${op.column} into ${op.into.map((c) => c.name).join(', ')}`,
  // Every column the operation writes or its expressions read: a migration renaming one of those
  // waits until this one has contracted.
  columns: (op) => {
    const read = [...op.into.flatMap((c) => expressionColumns(c.up)), ...expressionColumns(op.down)].map((r) => r.name);
    return [...new Set([op.column, ...op.into.map((c) => c.name), ...read])].map((column) => ({
      schema: op.schema,
      table: op.table,
      column,
    }));
  },
  inspect,
  steps,
  drift,
};

export const splitColumnOperation = defineOperation({ schema: splitColumnSchema, handler: splitColumnHandler });
