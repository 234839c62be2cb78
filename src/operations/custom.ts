import { describeRef, findTable, type TableRef } from '../catalog/introspect.js';
import type { Queryable } from '../db/queryable.js';
import { ident, literal, qualified } from '../sql/ident.js';
import { rewriteColumns } from '../sql/parser.js';
import { inspectCustom } from './custom-inspect.js';
import { inPlanOrder, overridesByStatement, SQL_FIELDS, statementSteps, statementsOf, type SqlField } from './custom-sql.js';
import type { Custom } from './custom.schema.js';
import { PGSHIFT_SCHEMA } from './names.js';
import { rowTrigger, rowTriggerDrift } from './row-trigger.js';
import type { CustomFacts, DdlStep, ObjectNames, OperationHandler, OperationSteps } from './types.js';

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
    `SELECT ${Object.values(map).map(onNew).join(', ')} INTO ${Object.keys(map).map((c) => `${target}.${ident(c)}`).join(', ')};`;
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
      ? [`    IF ${newCols.map((c) => `NEW.${ident(c)} IS DISTINCT FROM computed.${ident(c)}`).join(' OR ')} THEN`, `      ${into('NEW', down)}`, '    END IF;']
      : ['    NULL;']),
    '  ELSE',
    ...newCols.map((c) => `    NEW.${ident(c)} := computed.${ident(c)};`),
    '  END IF;',
    '  RETURN NEW;',
    'END',
  ];
  return lines.join('\n');
}

const PHASE_OF: Record<SqlField, string> = { expand: 'expand', 'dualWrite.sql': 'dual-write', 'backfill.after': 'backfill', rollback: 'rollback', contract: 'contract' };

/** The backfill's default pending predicate (and verification): a set column differs from its expression. */
export function defaultPending(set: Record<string, string>): string {
  return Object.entries(set)
    .map(([c, e]) => `${ident(c)} IS DISTINCT FROM (${e})`)
    .join(' OR ');
}

function steps(op: Custom, facts: CustomFacts, names: ObjectNames, index: number): OperationSteps {
  const byField = Object.fromEntries(SQL_FIELDS.map((f) => [f, statementsOf(op, f)])) as Record<SqlField, ReturnType<typeof statementsOf>>;
  const overrides = overridesByStatement(op, SQL_FIELDS.flatMap((f) => byField[f]));
  const user = (field: SqlField) => statementSteps(byField[field], { index, phase: PHASE_OF[field], defaultSchema: op.schema, facts, overrides });
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
            description: 'try the trigger’s up/down assignments against the table as it is now (a wrong column or type fails this phase, not the apps’ writes)',
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
    backfill: table && set && pending && facts.key ? [{ id: `${index}.backfill`, table, key, set: Object.entries(set).map(([column, e]) => ({ column, expression: `(${e})` })), pending }] : [],
    // Run at the end of the backfill phase, where only short transactions of their own may run.
    afterBackfill: user('backfill.after').map((s) => (s.tx === 'phase' ? { ...s, tx: 'own' as const } : s)),
    verify:
      table && mismatch && facts.key
        ? [{ id: `${index}.verify`, table, key, mismatch, description: op.verify !== undefined ? 'the verify expression is false' : 'every row holds the backfill’s values' }]
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
  const undo = Array.isArray(op.rollback) && op.rollback.length === 0 ? ' (rollback: nothing to undo, as the plan says)' : op.rollback === undefined ? ' (no rollback SQL)' : '';
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
          ...[...new Set([...Object.keys(op.dualWrite?.trigger?.up ?? {}), ...Object.keys(op.dualWrite?.trigger?.down ?? {}), ...Object.keys(op.backfill?.set ?? {})])].map((column) => ({
            schema: op.schema,
            table: op.table!,
            column,
          })),
        ],
  inspect: inspectCustom,
  steps,
  drift,
};
