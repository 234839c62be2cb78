import { z } from 'zod';
import { identifier, required, tableFields } from '../plan/fields.js';
import { columnTypes, uniqueKeyOver } from '../catalog/constraints.js';
import { describeRef, findTable, relkindName, type TableRef } from '../catalog/introspect.js';
import type { Queryable } from '../db/queryable.js';
import type { PlanProblem } from '../errors.js';
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

/** PostgreSQL's INDEX_MAX_KEYS: a key has at most 32 columns. */
const MAX_KEY_COLUMNS = 32;

const keyColumns = z
  .array(identifier, { error: required('an array of column names') })
  .min(1, { error: 'must list at least one column' })
  .max(MAX_KEY_COLUMNS, { error: `a key has at most ${MAX_KEY_COLUMNS} columns` })
  .superRefine((columns, ctx) => {
    columns.forEach((c, i) => {
      if (columns.indexOf(c) !== i) ctx.addIssue({ code: 'custom', path: [i], message: `column ${c} is already listed` });
    });
  });

export const REFERENTIAL_ACTIONS = ['no action', 'restrict', 'cascade', 'set null', 'set default'] as const;
const referentialAction = z.enum(REFERENTIAL_ACTIONS, {
  error: required(`one of ${REFERENTIAL_ACTIONS.map((a) => `"${a}"`).join(', ')}`),
});

export const addForeignKeySchema = z
  .strictObject(
    {
      kind: z.literal('addForeignKey'),
      ...tableFields,
      /** Name of the new constraint. */
      name: identifier,
      columns: keyColumns,
      references: z.strictObject(
        {
          /** Default: the schema of the referencing table. */
          schema: identifier.optional(),
          table: identifier,
          columns: keyColumns,
        },
        { error: required('an object') },
      ),
      onDelete: referentialAction.optional(),
      onUpdate: referentialAction.optional(),
    },
    { error: required('an object') },
  )
  .superRefine((op, ctx) => {
    if (op.columns.length !== op.references.columns.length)
      ctx.addIssue({
        code: 'custom',
        path: ['references', 'columns'],
        message: `lists ${op.references.columns.length} column(s) for ${op.columns.length} in "columns"; they pair up one to one`,
      });
  });

export type AddForeignKey = z.output<typeof addForeignKeySchema>;
export type AddForeignKeyInput = z.input<typeof addForeignKeySchema>;

export interface AddForeignKeyFacts {
  key: BatchKey;
  /**
   * Per column pair, the referenced column's collation where it differs from the referencing
   * column's (verification compares under it, as PostgreSQL's own check does), else null.
   */
  collations: ({ schema: string; name: string } | null)[];
}

/** Alias of the referenced table inside verification's subquery (the table may reference itself). */
const REF_ALIAS = 'pgshift_ref';

function tableOf(op: AddForeignKey): TableRef {
  return { schema: op.schema, name: op.table };
}

/** The referenced table; its schema defaults to the referencing table's. */
export function referencedOf(op: AddForeignKey): TableRef {
  return { schema: op.references.schema ?? op.schema, name: op.references.table };
}

function constraintOf(op: AddForeignKey): ConstraintRef {
  return { table: tableOf(op), name: op.name, type: 'f' };
}

function columnList(columns: readonly string[]): string {
  return columns.map(ident).join(', ');
}

/**
 * Rows of the table that VALIDATE would reject: every key column set (MATCH SIMPLE skips a row
 * with any NULL) and no row of the referenced table with the same values. The table's columns
 * are qualified with its full name and the referenced table has an alias, so the comparison is
 * between the two even when the table references itself; where the collations differ the
 * referenced column's is used, as PostgreSQL's own check does.
 */
export function orphanPredicate(op: AddForeignKey, facts: Pick<AddForeignKeyFacts, 'collations'>): string {
  const t = qualified(op.schema, op.table);
  const ref = referencedOf(op);
  const alias = ident(REF_ALIAS);
  const notNull = op.columns.map((c) => `${t}.${ident(c)} IS NOT NULL`);
  const equal = op.columns.map((c, i) => {
    const collation = facts.collations[i];
    const collate = collation ? ` COLLATE ${qualified(collation.schema, collation.name)}` : '';
    return `${alias}.${ident(op.references.columns[i]!)} = ${t}.${ident(c)}${collate}`;
  });
  return `${notNull.join(' AND ')} AND NOT EXISTS (SELECT 1 FROM ${qualified(ref.schema, ref.name)} AS ${alias} WHERE ${equal.join(' AND ')})`;
}

function action(clause: string, value: string | undefined): string {
  return value ? ` ${clause} ${value.toUpperCase()}` : '';
}

function steps(op: AddForeignKey, facts: AddForeignKeyFacts, _names: ObjectNames, index: number): OperationSteps {
  const table = tableOf(op);
  const ref = referencedOf(op);
  const c = constraintOf(op);
  const refName = describeRef(ref);
  const self = ref.schema === table.schema && ref.name === table.name;
  const alsoOn = (lock: string) => (self ? '' : `; also ${lock} on ${refName}`);
  return {
    expand: [
      {
        id: `${index}.expand.add-foreign-key`,
        description: `add foreign key ${op.name} NOT VALID: enforced on every write from now on; existing rows are not scanned${alsoOn('SHARE ROW EXCLUSIVE')}`,
        sql:
          `ALTER TABLE ${qualified(op.schema, op.table)} ADD CONSTRAINT ${ident(op.name)} FOREIGN KEY (${columnList(op.columns)}) ` +
          `REFERENCES ${qualified(ref.schema, ref.name)} (${columnList(op.references.columns)})` +
          `${action('ON DELETE', op.onDelete)}${action('ON UPDATE', op.onUpdate)} NOT VALID`,
        lock: 'SHARE ROW EXCLUSIVE',
        table,
        ...(self ? {} : { otherTable: ref }),
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
        mismatch: orphanPredicate(op, facts),
        description: `every row's (${op.columns.join(', ')}) is in ${refName} (${op.references.columns.join(', ')})`,
      },
    ],
    checks: [presentCheck(c, index)],
    contract: [
      {
        ...validateStep(c, index, `validate ${op.name}: scan the existing rows while reads and writes go on${alsoOn('ROW SHARE')}`),
        ...(self ? {} : { otherTable: ref }),
      },
    ],
    rollback: [{ ...dropStep(c, index, `remove ${op.name}${alsoOn('ACCESS EXCLUSIVE')}`), ...(self ? {} : { otherTable: ref }) }],
    triggers: [],
  };
}

async function inspect(db: Queryable, op: AddForeignKey, path: string) {
  const { table, problems } = await inspectTarget(db, { table: tableOf(op), name: op.name, kind: 'addForeignKey' }, path);
  const ref = referencedOf(op);
  const refWhere = describeRef(ref);
  const referenced = await findTable(db, ref);
  if (!referenced) problems.push({ path: `${path}.references.table`, message: `table ${refWhere} does not exist` });
  else if (referenced.relkind !== 'r' && referenced.relkind !== 'p')
    problems.push({
      path: `${path}.references.table`,
      message: `${refWhere} is a ${relkindName(referenced.relkind)}; a foreign key references a table`,
    });
  else if (referenced.relkind === 'r' && referenced.hasInheritanceChildren)
    problems.push({
      path: `${path}.references.table`,
      message: `${refWhere} has inheritance children (not supported yet: PostgreSQL would look only at the parent's rows)`,
    });

  const own = table ? await columnTypes(db, table.oid, op.columns) : null;
  const theirs = referenced ? await columnTypes(db, referenced.oid, op.references.columns) : null;
  const missing = (where: string, columns: readonly string[], found: Map<string, unknown> | null, at: string) => {
    columns.forEach((c, i) => {
      if (found && !found.has(c)) problems.push({ path: `${path}.${at}[${i}]`, message: `column ${c} does not exist in ${where}` });
    });
  };
  missing(describeRef(tableOf(op)), op.columns, own, 'columns');
  missing(refWhere, op.references.columns, theirs, 'references.columns');

  const collations: AddForeignKeyFacts['collations'] = [];
  if (own && theirs && referenced && op.references.columns.every((c) => theirs.has(c))) {
    const attnums = op.references.columns.map((c) => theirs.get(c)!.attnum);
    if (!(await uniqueKeyOver(db, referenced.oid, attnums)))
      problems.push({
        path: `${path}.references.columns`,
        message:
          `${refWhere} has no primary key or unique constraint over exactly (${op.references.columns.join(', ')}); ` +
          'PostgreSQL needs one (not partial, not deferrable) on the referenced columns',
      });
    op.columns.forEach((c, i) => {
      const mine = own.get(c);
      const other = theirs.get(op.references.columns[i]!)!;
      if (!mine) return;
      if (mine.typeOid !== other.typeOid)
        problems.push({
          path: `${path}.columns[${i}]`,
          message: `${c} is ${mine.type} but ${refWhere}.${other.name} is ${other.type}; the paired columns must have the same type (length and precision may differ)`,
        });
      collations.push(mine.collationOid !== other.collationOid ? other.collation : null);
    });
  }
  if (problems.length || !table?.key) return { facts: null, problems };
  return { facts: { key: table.key, collations }, problems: [] as PlanProblem[] };
}

export const addForeignKeyHandler: OperationHandler<AddForeignKey, AddForeignKeyFacts> = {
  describe: (op) =>
    `add foreign key ${op.name}: ${describeRef(tableOf(op))} (${op.columns.join(', ')}) → ${describeRef(referencedOf(op))} (${op.references.columns.join(', ')})`,
  columns: (op) => {
    const ref = referencedOf(op);
    return [
      constraintKey(constraintOf(op)),
      ...op.columns.map((column) => ({ schema: op.schema, table: op.table, column })),
      ...op.references.columns.map((column) => ({ schema: ref.schema, table: ref.name, column })),
    ];
  },
  inspect,
  steps,
  drift: async (db, op, _facts, _names, completed) => {
    const problems = await constraintDrift(db, constraintOf(op), completed);
    if (!completed.includes('contract') && !(await findTable(db, referencedOf(op))))
      problems.push(`referenced table ${describeRef(referencedOf(op))} is gone`);
    return problems;
  },
};

export const addForeignKeyOperation = defineOperation({
  schema: addForeignKeySchema,
  handler: addForeignKeyHandler,
  createdByExpand: 'name',
});
