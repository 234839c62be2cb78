import { z } from 'zod';
import { RULE_IDS } from '../sql/lint.js';
import { identifier, required, sqlText } from '../plan/fields.js';
import { describeRef, findTable, type TableRef } from '../catalog/introspect.js';
import type { Queryable } from '../db/queryable.js';
import { ident, literal, qualified } from '../sql/ident.js';
import { rewriteColumns } from '../sql/parser.js';
import { inspectCustom } from './blocks/custom-inspect.js';
import { inPlanOrder, overridesByStatement, SQL_FIELDS, statementSteps, statementsOf, type SqlField } from './blocks/custom-sql.js';
import { PGSHIFT_SCHEMA } from './blocks/names.js';
import { rowTrigger, rowTriggerDrift } from './blocks/row-trigger.js';
import type { CustomFacts } from './blocks/custom-sql.js';

export type { CustomFacts };
import type { DdlStep, ObjectNames, OperationSteps } from '../plan/steps.js';
import type { OperationHandler } from './operation.js';
import { defineOperation } from './operation.js';

/** Raw SQL: one string (one or more statements) or a list of them. */
const statements = z.union([sqlText, z.array(sqlText).min(1, { error: 'must list at least one string of SQL' })], {
  error: required('a string of SQL or a list of them'),
});

/** `{ column: expression }`, at least one. */
const assignments = z
  .record(identifier, sqlText, { error: required('an object of column: SQL expression') })
  .refine((r) => Object.keys(r).length > 0, { error: 'must assign at least one column' });

export const customAllowSchema = z.strictObject(
  {
    /** The statement's label from the refusal (`expand #2`), or a piece of its text found in exactly one statement. */
    statement: z.string({ error: required('a string') }).min(1, { error: 'must not be empty' }),
    rule: z.enum(RULE_IDS, { error: (issue) => (issue.input === undefined ? 'required' : `unknown rule (known: ${RULE_IDS.join(', ')})`) }),
    /** Why it is safe here; recorded in the ledger with the run. */
    reason: z
      .string({ error: required('a string') })
      .refine((s) => s.trim().length > 0, { error: 'must say why the statement is safe here' }),
  },
  { error: required('an object') },
);

export const customSchema = z
  .strictObject(
    {
      kind: z.literal('custom'),
      /** What the operation does, for `plan` and `status`. */
      description: z.string({ error: required('a string') }).optional(),
      /** The table of the trigger, the backfill and the verification. */
      schema: identifier.default('public'),
      table: identifier.optional(),
      expand: statements.optional(),
      dualWrite: z
        .strictObject(
          {
            sql: statements.optional(),
            /**
             * A row trigger keeping both shapes in sync: `up` computes new columns from the old ones
             * (for the old app's writes), `down` old columns from the new ones (for the new app's).
             */
            trigger: z.strictObject({ up: assignments, down: assignments.optional() }, { error: required('an object') }).optional(),
          },
          { error: required('an object') },
        )
        .optional(),
      backfill: z
        .strictObject(
          {
            /** Keyset batches of `UPDATE table SET column = (expression), …`. */
            set: assignments.optional(),
            /** Boolean SQL: the row still needs the backfill (default: a set column differs from its expression). */
            pending: sqlText.optional(),
            /** DDL run at the end of the backfill phase (e.g. an index on the filled column). */
            after: statements.optional(),
          },
          { error: required('an object') },
        )
        .optional(),
      /** Boolean SQL over a row: true for a row that is wrong (default: the backfill's pending predicate). */
      verify: sqlText.optional(),
      contract: statements.optional(),
      /** Undoes expand, dual-write and backfill from wherever they stopped: re-runnable (IF EXISTS). */
      rollback: z
        .union([sqlText, z.array(sqlText)], { error: required('a string of SQL or a list of them ([] for nothing to undo)') })
        .optional(),
      /** Lint refusals set aside, one statement and rule each, with the reason. */
      allow: z.array(customAllowSchema, { error: required('an array') }).default([]),
    },
    { error: required('an object') },
  )
  .superRefine((op, ctx) => {
    const needsTable = [
      op.dualWrite?.trigger && 'dualWrite.trigger',
      op.backfill?.set && 'backfill.set',
      op.verify !== undefined && 'verify',
    ].filter(Boolean);
    if (op.table === undefined && needsTable.length)
      ctx.addIssue({ code: 'custom', path: ['table'], message: `required with ${needsTable.join(', ')}` });
    if (op.backfill && !op.backfill.set && op.backfill.pending !== undefined)
      ctx.addIssue({ code: 'custom', path: ['backfill', 'pending'], message: 'needs backfill.set' });
    const changes = [
      op.expand !== undefined && 'expand',
      op.dualWrite?.sql !== undefined && 'dualWrite.sql',
      op.backfill?.after !== undefined && 'backfill.after',
    ].filter(Boolean);
    if (changes.length && op.rollback === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['rollback'],
        message: `required because ${changes.join(', ')} change the database: give SQL that undoes them from any phase (re-runnable, e.g. DROP … IF EXISTS), or [] if nothing needs undoing`,
      });
    const anything = op.expand ?? op.dualWrite ?? op.backfill ?? op.verify ?? op.contract;
    if (anything === undefined)
      ctx.addIssue({ code: 'custom', path: [], message: 'does nothing: give expand, dualWrite, backfill, verify or contract' });
  });

export type Custom = z.output<typeof customSchema>;
export type CustomInput = z.input<typeof customSchema>;
export type CustomAllow = z.output<typeof customAllowSchema>;

function tableOf(op: Custom): TableRef | null {
  return op.table === undefined ? null : { schema: op.schema, name: op.table };
}

/**
 * Body of the dual-write trigger, with rename-column's direction rules over sets of columns. An
 * INSERT that gives none of the new columns comes from the old app (new ones are computed by
 * `up`), else from the new app (old ones computed by `down`). An UPDATE that changes a new column
 * comes from the new app and the old ones follow, unless they already agree with it (the backfill
 * writing `up`'s value must not round-trip through `down`); otherwise the new columns follow the
 * old. `computed` has the table's row type, so comparisons are between stored values.
 */
export function customSyncBody(table: TableRef, up: Record<string, string>, down: Record<string, string>): string {
  const onNew = (e: string) => `(${rewriteColumns(e, (c) => `NEW.${ident(c)}`)})`;
  const newCols = Object.keys(up);
  const into = (target: string, map: Record<string, string>) =>
    `SELECT ${Object.values(map).map(onNew).join(', ')} INTO ${Object.keys(map)
      .map((c) => `${target}.${ident(c)}`)
      .join(', ')};`;
  const hasDown = Object.keys(down).length > 0;
  const lines = [
    'DECLARE',
    `  computed ${qualified(table.schema, table.name)}%ROWTYPE;`,
    'BEGIN',
    `  IF TG_OP = 'INSERT' THEN`,
    `    IF ${newCols.map((c) => `NEW.${ident(c)} IS NULL`).join(' AND ')} THEN`,
    `      ${into('NEW', up)}`,
    ...(hasDown ? ['    ELSE', `      ${into('NEW', down)}`] : []),
    '    END IF;',
    '    RETURN NEW;',
    '  END IF;',
    '  computed := NEW;',
    `  ${into('computed', up)}`,
    `  IF ${newCols.map((c) => `NEW.${ident(c)} IS DISTINCT FROM OLD.${ident(c)}`).join(' OR ')} THEN`,
    ...(hasDown
      ? [
          `    IF ${newCols.map((c) => `NEW.${ident(c)} IS DISTINCT FROM computed.${ident(c)}`).join(' OR ')} THEN`,
          `      ${into('NEW', down)}`,
          '    END IF;',
        ]
      : ['    NULL;']),
    '  ELSE',
    ...newCols.map((c) => `    NEW.${ident(c)} := computed.${ident(c)};`),
    '  END IF;',
    '  RETURN NEW;',
    'END',
  ];
  return lines.join('\n');
}

const PHASE_OF: Record<SqlField, string> = {
  expand: 'expand',
  'dualWrite.sql': 'dual-write',
  'backfill.after': 'backfill',
  rollback: 'rollback',
  contract: 'contract',
};

/** The backfill's default pending predicate (and verification): a set column differs from its expression. */
export function defaultPending(set: Record<string, string>): string {
  return Object.entries(set)
    .map(([c, e]) => `${ident(c)} IS DISTINCT FROM (${e})`)
    .join(' OR ');
}

function steps(op: Custom, facts: CustomFacts, names: ObjectNames, index: number): OperationSteps {
  const byField = Object.fromEntries(SQL_FIELDS.map((f) => [f, statementsOf(op, f)])) as Record<SqlField, ReturnType<typeof statementsOf>>;
  const overrides = overridesByStatement(
    op,
    SQL_FIELDS.flatMap((f) => byField[f]),
  );
  const user = (field: SqlField) =>
    statementSteps(byField[field], { index, phase: PHASE_OF[field], defaultSchema: op.schema, facts, overrides });
  const table = tableOf(op);
  const spec = op.dualWrite?.trigger;
  const trigger =
    table && spec
      ? rowTrigger({
          table,
          names,
          index,
          body: customSyncBody(table, spec.up, spec.down ?? {}),
          purpose: `computing ${Object.keys(spec.up).join(', ')} from the old columns${spec.down ? ` and ${Object.keys(spec.down).join(', ')} from the new ones` : ''}`,
          stop: 'stop dual-writing',
          // Skipping the trigger for the backfill's rows is only safe when its UPDATE sets every
          // column the trigger computes; a `down` side is the trigger's alone.
          skipForBackfill: !spec.down && Object.keys(spec.up).every((c) => op.backfill?.set !== undefined && c in op.backfill.set),
        })
      : null;
  const t = table ? qualified(table.schema, table.name) : '';
  const check: DdlStep[] =
    table && spec
      ? [
          {
            id: `${index}.dual-write.check-expressions`,
            description:
              'try the trigger’s up/down assignments against the table as it is now (a wrong column or type fails this phase, not the apps’ writes)',
            sql: `EXPLAIN UPDATE ${t} SET ${Object.entries({ ...spec.up, ...(spec.down ?? {}) })
              .map(([c, e]) => `${ident(c)} = (${e})`)
              .join(', ')}`,
            lock: 'ROW EXCLUSIVE',
            table,
            tx: 'phase',
          },
        ]
      : [];
  const fn = literal(`${qualified(PGSHIFT_SCHEMA, names.function)}()`);
  const skip: Record<string, string> = table
    ? {
        [`${index}.contract.drop-trigger`]: `SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = pg_catalog.to_regclass(${literal(t)}) AND tgname = ${literal(names.trigger)}) AS done`,
        [`${index}.contract.drop-function`]: `SELECT pg_catalog.to_regprocedure(${fn}) IS NULL AS done`,
      }
    : {};
  const key = facts.key?.columns ?? [];
  const set = op.backfill?.set;
  const pending = set ? (op.backfill?.pending ?? defaultPending(set)) : null;
  const mismatch = op.verify ?? pending;
  return {
    expand: inPlanOrder(user('expand')),
    dualWrite: inPlanOrder([...user('dualWrite.sql'), ...check, ...(trigger?.dualWrite ?? [])]),
    backfill:
      table && set && pending && facts.key
        ? [
            {
              id: `${index}.backfill`,
              table,
              key,
              set: Object.entries(set).map(([column, e]) => ({ column, expression: `(${e})` })),
              pending,
            },
          ]
        : [],
    // Run at the end of the backfill phase, where only short transactions of their own may run.
    afterBackfill: user('backfill.after').map((s) => (s.tx === 'phase' ? { ...s, tx: 'own' as const } : s)),
    verify:
      table && mismatch && facts.key
        ? [
            {
              id: `${index}.verify`,
              table,
              key,
              mismatch,
              description: op.verify !== undefined ? 'the verify expression is false' : 'every row holds the backfill’s values',
            },
          ]
        : [],
    checks: [],
    contract: inPlanOrder([...(trigger?.contract ?? []).map((s) => ({ ...s, skipIf: skip[s.id] })), ...user('contract')]),
    rollback: inPlanOrder([...(trigger?.rollback ?? []), ...user('rollback')]),
    triggers: table && spec ? [{ table, name: names.trigger }] : [],
  };
}

async function drift(db: Queryable, op: Custom, _facts: CustomFacts, names: ObjectNames, completed: readonly string[]) {
  const table = tableOf(op);
  if (!table || !op.dualWrite?.trigger || !completed.includes('dual-write') || completed.includes('contract')) return [];
  const where = describeRef(table);
  if (!(await findTable(db, table))) return [`table ${where} is gone`];
  const problems: string[] = [];
  problems.push(...(await rowTriggerDrift(db, table, names)));
  return problems;
}

function describe(op: Custom): string {
  const table = tableOf(op);
  const what = op.description ?? `custom SQL${table ? ` on ${describeRef(table)}` : ''}`;
  const undo =
    Array.isArray(op.rollback) && op.rollback.length === 0
      ? ' (rollback: nothing to undo, as the plan says)'
      : op.rollback === undefined
        ? ' (no rollback SQL)'
        : '';
  return `${what}${undo}`;
}

export const customHandler: OperationHandler<Custom, CustomFacts> = {
  describe,
  // The columns its trigger and backfill write; what its raw SQL touches is not tracked.
  columns: (op) =>
    op.table === undefined
      ? []
      : [
          { schema: op.schema, table: op.table, column: '(table)' },
          ...[
            ...new Set([
              ...Object.keys(op.dualWrite?.trigger?.up ?? {}),
              ...Object.keys(op.dualWrite?.trigger?.down ?? {}),
              ...Object.keys(op.backfill?.set ?? {}),
            ]),
          ].map((column) => ({
            schema: op.schema,
            table: op.table!,
            column,
          })),
        ],
  inspect: inspectCustom,
  steps,
  drift,
};

export const customOperation = defineOperation({ schema: customSchema, handler: customHandler });
