import {
  columnDependents,
  describeRef,
  findTable,
  functionExists,
  relkindName,
  triggerState,
  type TableRef,
} from '../catalog/introspect.js';
import { notNullViaCheck } from './not-null.js';
import { rowTrigger } from './row-trigger.js';
import type { Queryable } from '../db/queryable.js';
import type { PlanProblem } from '../errors.js';
import type { RenameColumn } from '../plan/model.js';
import { ident, literal, qualified } from '../sql/ident.js';
import { PGSHIFT_SCHEMA } from './names.js';
import type { DdlStep, ObjectNames, OperationHandler, OperationSteps, RenameColumnFacts } from './types.js';

function tableOf(op: RenameColumn): TableRef {
  return { schema: op.schema, name: op.table };
}

/**
 * Body of the dual-write trigger. Direction is decided per row, without recursion (it only
 * assigns NEW, it never issues an UPDATE):
 * - INSERT: a value given for the new column wins; otherwise the new column takes the old one
 *   (which is the old app's value or the column default).
 * - UPDATE: if the new column changed, the old one follows it; otherwise the new one follows the
 *   old (covering old-app writes and keeping touched rows in sync).
 */
export function syncFunctionBody(from: string, to: string): string {
  const f = `NEW.${ident(from)}`;
  const t = `NEW.${ident(to)}`;
  return [
    'BEGIN',
    `  IF TG_OP = 'INSERT' THEN`,
    `    IF ${t} IS NULL THEN ${t} := ${f}; ELSE ${f} := ${t}; END IF;`,
    `  ELSIF ${t} IS DISTINCT FROM OLD.${ident(to)} THEN`,
    `    ${f} := ${t};`,
    '  ELSE',
    `    ${t} := ${f};`,
    '  END IF;',
    '  RETURN NEW;',
    'END',
  ].join('\n');
}

function steps(op: RenameColumn, facts: RenameColumnFacts, names: ObjectNames, index: number): OperationSteps {
  const table = tableOf(op);
  const t = qualified(op.schema, op.table);
  const from = ident(op.from);
  const to = ident(op.to);
  const id = (phase: string, what: string) => `${index}.${phase}.${what}`;

  const collate = facts.collation ? ` COLLATE ${qualified(facts.collation.schema, facts.collation.name)}` : '';
  const expand: DdlStep[] = [
    {
      id: id('expand', 'add-column'),
      description: `add ${op.to} beside ${op.from} (nullable, no default: no table rewrite)`,
      sql: `ALTER TABLE ${t} ADD COLUMN ${to} ${facts.type}${collate}`,
      lock: 'ACCESS EXCLUSIVE',
      table,
      tx: 'phase',
    },
  ];
  if (facts.comment !== null) {
    expand.push({
      id: id('expand', 'comment'),
      description: `copy the comment of ${op.from}`,
      sql: `COMMENT ON COLUMN ${t}.${to} IS ${literal(facts.comment)}`,
      lock: 'SHARE UPDATE EXCLUSIVE',
      table,
      tx: 'phase',
    });
  }

  const sync = rowTrigger({
    table,
    names,
    index,
    body: syncFunctionBody(op.from, op.to),
    purpose: `keeping ${op.from} and ${op.to} equal in both directions`,
    stop: 'stop dual-writing',
  });
  const dualWrite = sync.dualWrite;

  const notNull = notNullViaCheck({ table, column: op.to, checkName: names.notNullCheck, index });
  const contract: DdlStep[] = facts.notNull ? [...notNull.contract] : [];
  contract.push(...sync.contract);
  if (facts.defaultExpr !== null) {
    contract.push({
      id: id('contract', 'move-default'),
      description: `move the default to ${op.to} (kept off it until now so the INSERT direction is unambiguous)`,
      sql: `ALTER TABLE ${t} ALTER COLUMN ${to} SET DEFAULT ${facts.defaultExpr}`,
      lock: 'ACCESS EXCLUSIVE',
      table,
      tx: 'phase',
    });
  }
  contract.push({
    id: id('contract', 'drop-old-column'),
    description: `drop ${op.from} (metadata only, no rewrite)`,
    sql: `ALTER TABLE ${t} DROP COLUMN ${from}`,
    lock: 'ACCESS EXCLUSIVE',
    table,
    tx: 'phase',
  });

  const rollback: DdlStep[] = [
    notNull.rollback,
    ...sync.rollback,
    {
      id: id('rollback', 'drop-new-column'),
      description: `drop ${op.to}; every value written to it was mirrored into ${op.from}`,
      sql: `ALTER TABLE ${t} DROP COLUMN IF EXISTS ${to}`,
      lock: 'ACCESS EXCLUSIVE',
      table,
      tx: 'phase',
    },
  ];

  return {
    expand,
    dualWrite,
    backfill: [
      {
        id: `${index}.backfill`,
        table,
        key: facts.key.columns,
        set: [{ column: op.to, expression: from }],
        pending: `${to} IS DISTINCT FROM ${from}`,
      },
    ],
    afterBackfill: [],
    verify: [
      {
        id: `${index}.verify`,
        table,
        key: facts.key.columns,
        mismatch: `${to} IS DISTINCT FROM ${from}`,
        description: `${op.to} equals ${op.from}`,
      },
    ],
    checks: [],
    contract,
    rollback,
    triggers: [{ table, name: names.trigger }],
  };
}

async function inspect(db: Queryable, op: RenameColumn, path: string) {
  const problems: PlanProblem[] = [];
  const where = describeRef(tableOf(op));
  const table = await findTable(db, tableOf(op));
  if (!table) {
    problems.push({ path: `${path}.table`, message: `table ${where} does not exist` });
    return { facts: null, problems };
  }
  if (table.relkind !== 'r') {
    problems.push({ path: `${path}.table`, message: `${where} is a ${relkindName(table.relkind)}; renameColumn supports plain tables` });
  }
  if (table.hasInheritanceChildren) problems.push({ path: `${path}.table`, message: `${where} has inheritance children (not supported yet)` });
  if (table.isTyped) problems.push({ path: `${path}.table`, message: `${where} is a typed table (OF type); its columns come from the type` });
  if (!table.key) {
    problems.push({
      path: `${path}.table`,
      message: `${where} has no primary key or unique index over NOT NULL columns to batch the backfill on`,
    });
  }
  if (table.columns.some((c) => c.name === op.to)) {
    problems.push({ path: `${path}.to`, message: `column ${op.to} already exists in ${where}` });
  }
  const column = table.columns.find((c) => c.name === op.from);
  if (!column) {
    problems.push({ path: `${path}.from`, message: `column ${op.from} does not exist in ${where}` });
    return { facts: null, problems };
  }
  const cannot = (what: string) =>
    problems.push({ path: `${path}.from`, message: `${op.from} has ${what}, which renameColumn cannot carry over yet` });
  if (column.identity) cannot('an identity (GENERATED ... AS IDENTITY)');
  if (column.generated) cannot('a generation expression (GENERATED ALWAYS AS ...)');
  if (column.hasColumnPrivileges) cannot('column-level privileges (GRANT ... (column))');
  for (const dependent of await columnDependents(db, table.oid, column.attnum)) cannot(`a dependent object: ${dependent}`);
  if (problems.length || !table.key) return { facts: null, problems };
  return {
    facts: {
      type: column.type,
      collation: column.collation,
      notNull: column.notNull,
      defaultExpr: column.defaultExpr,
      comment: column.comment,
      key: table.key,
    },
    problems,
  };
}

async function drift(db: Queryable, op: RenameColumn, _facts: RenameColumnFacts, names: ObjectNames, completed: readonly string[]) {
  const problems: string[] = [];
  const where = describeRef(tableOf(op));
  const table = await findTable(db, tableOf(op));
  if (!table) return [`table ${where} is gone`];
  const has = (c: string) => table.columns.some((col) => col.name === c);
  if (!completed.includes('contract')) {
    if (!has(op.from)) problems.push(`column ${op.from} is missing from ${where}`);
    if (completed.includes('expand') && !has(op.to)) problems.push(`column ${op.to} (added by expand) is missing from ${where}`);
    if (completed.includes('dual-write')) {
      const state = await triggerState(db, tableOf(op), names.trigger);
      if (state !== 'enabled') problems.push(`dual-write trigger ${names.trigger} on ${where} is ${state}`);
      if (!(await functionExists(db, PGSHIFT_SCHEMA, names.function)))
        problems.push(`trigger function ${PGSHIFT_SCHEMA}.${names.function} is missing`);
    }
  }
  return problems;
}

export const renameColumnHandler: OperationHandler<RenameColumn, RenameColumnFacts> = {
  describe: (op) => `rename ${describeRef(tableOf(op))}.${op.from} to ${op.to}`,
  columns: (op) => [op.from, op.to].map((column) => ({ schema: op.schema, table: op.table, column })),
  inspect,
  steps,
  drift,
};
