import { describe, expect, test } from 'vitest';
import { PlanInvalidError } from '../../src/errors.js';
import { addForeignKeyHandler } from '../../src/operations/add-foreign-key.js';
import type { AddForeignKey } from '../../src/operations/add-foreign-key.js';
import { objectNames } from '../../src/operations/blocks/names.js';
import type { AddForeignKeyFacts } from '../../src/operations/add-foreign-key.js';
import { addForeignKey, defineMigration } from '../../src/plan/define.js';
import { parseMigration } from '../../src/plan/validate.js';
import { renderPlan } from '../../src/render-plan.js';

const op: AddForeignKey = {
  kind: 'addForeignKey',
  schema: 'public',
  table: 'orders',
  name: 'orders_customer_fkey',
  columns: ['customer_id'],
  references: { table: 'customers', columns: ['id'] },
  onDelete: 'set null',
};
const facts: AddForeignKeyFacts = {
  key: { source: 'orders_pkey', kind: 'primary key', columns: [{ name: 'id', type: 'bigint' }] },
  collations: [null],
};
const names = objectNames('20261202_orders_customer_fkey', 0);
const steps = addForeignKeyHandler.steps(op, facts, names, 0);
const rows = (list: { sql: string; lock: string; tx: string }[]) => list.map((s) => [s.sql, s.lock, s.tx]);
const ORPHAN =
  '"public"."orders"."customer_id" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "public"."customers" AS "pgshift_ref" ' +
  'WHERE "pgshift_ref"."id" = "public"."orders"."customer_id")';

function problems(input: unknown): string[] {
  try {
    parseMigration(input, 'test');
  } catch (error) {
    if (error instanceof PlanInvalidError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  return [];
}

describe('addForeignKey renders the exact SQL of each phase', () => {
  test('expand: NOT VALID with the actions given, in the phase transaction', () => {
    expect(rows(steps.expand)).toEqual([
      [
        'ALTER TABLE "public"."orders" ADD CONSTRAINT "orders_customer_fkey" FOREIGN KEY ("customer_id") REFERENCES "public"."customers" ("id") ON DELETE SET NULL NOT VALID',
        'SHARE ROW EXCLUSIVE',
        'phase',
      ],
    ]);
    expect(steps.expand[0]!.description).toContain('also SHARE ROW EXCLUSIVE on customers');
    const both = addForeignKeyHandler.steps({ ...op, onDelete: 'cascade', onUpdate: 'no action' }, facts, names, 0);
    expect(both.expand[0]!.sql).toMatch(/\("id"\) ON DELETE CASCADE ON UPDATE NO ACTION NOT VALID$/);
    const none = addForeignKeyHandler.steps({ ...op, onDelete: undefined }, facts, names, 0);
    expect(none.expand[0]!.sql).toMatch(/\("id"\) NOT VALID$/);
  });

  test('verify: orphans only (a NULL in the key skips the row, as MATCH SIMPLE does)', () => {
    expect(steps.dualWrite).toEqual([]);
    expect(steps.backfill).toEqual([]);
    expect(steps.verify[0]!.mismatch).toBe(ORPHAN);
    const verify = renderPlan([steps])
      .find((p) => p.phase === 'verify')!
      .statements.map((s) => s.sql);
    expect(verify).toContain(
      `SELECT count(*)::int AS rows, count(*) FILTER (WHERE ${ORPHAN})::int AS mismatches FROM "public"."orders" WHERE "id" > $1::bigint AND "id" <= $2::bigint`,
    );
    expect(verify).toContain(
      `SELECT "id"::text AS k0 FROM "public"."orders" WHERE "id" > $1::bigint AND "id" <= $2::bigint AND (${ORPHAN}) ORDER BY "id" LIMIT $3`,
    );
    expect(steps.checks[0]!.sql).toContain(`count(*) FILTER (WHERE contype = 'f') = 1 AS ok`);
  });

  test('composite keys, another schema, and the referenced column collation where they differ', () => {
    const composite: AddForeignKey = {
      ...op,
      schema: 'sales',
      columns: ['region', 'customer_no'],
      references: { schema: 'crm', table: 'customers', columns: ['region', 'no'] },
      onDelete: undefined,
    };
    const s = addForeignKeyHandler.steps(composite, { ...facts, collations: [{ schema: 'pg_catalog', name: 'C' }, null] }, names, 0);
    expect(s.expand[0]!.sql).toBe(
      'ALTER TABLE "sales"."orders" ADD CONSTRAINT "orders_customer_fkey" FOREIGN KEY ("region", "customer_no") REFERENCES "crm"."customers" ("region", "no") NOT VALID',
    );
    expect(s.verify[0]!.mismatch).toBe(
      '"sales"."orders"."region" IS NOT NULL AND "sales"."orders"."customer_no" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "crm"."customers" AS "pgshift_ref" ' +
        'WHERE "pgshift_ref"."region" = "sales"."orders"."region" COLLATE "pg_catalog"."C" AND "pgshift_ref"."no" = "sales"."orders"."customer_no")',
    );
    // Without a schema, the referenced table is in the referencing table's.
    const sameSchema = addForeignKeyHandler.steps(
      { ...composite, references: { table: 'customers', columns: ['region', 'no'] } },
      facts,
      names,
      0,
    );
    expect(sameSchema.expand[0]!.sql).toContain('REFERENCES "sales"."customers"');
  });

  test('a table that references itself: the subquery has its own alias', () => {
    const self: AddForeignKey = {
      ...op,
      table: 'employees',
      name: 'boss_fk',
      columns: ['boss_id'],
      references: { table: 'employees', columns: ['id'] },
      onDelete: undefined,
    };
    const s = addForeignKeyHandler.steps(self, facts, names, 0);
    expect(s.verify[0]!.mismatch).toBe(
      '"public"."employees"."boss_id" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "public"."employees" AS "pgshift_ref" WHERE "pgshift_ref"."id" = "public"."employees"."boss_id")',
    );
    expect(s.expand[0]!.description).not.toContain('also');
    expect(s.expand[0]!.otherTable).toBeUndefined();
  });

  test('every step names the referenced table too, so its lock holders are named when the lock cannot be had', () => {
    const customers = { schema: 'public', name: 'customers' };
    for (const step of [...steps.expand, ...steps.contract, ...steps.rollback]) expect(step.otherTable, step.id).toEqual(customers);
  });

  test('contract: VALIDATE in its own transaction, skipped once validated; rollback: idempotent drop', () => {
    expect(rows(steps.contract)).toEqual([
      ['ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "orders_customer_fkey"', 'SHARE UPDATE EXCLUSIVE', 'own'],
    ]);
    expect(steps.contract[0]!.skipIf).toContain(`conname = 'orders_customer_fkey' AND convalidated) AS done`);
    expect(rows(steps.rollback)).toEqual([
      ['ALTER TABLE "public"."orders" DROP CONSTRAINT IF EXISTS "orders_customer_fkey"', 'ACCESS EXCLUSIVE', 'phase'],
    ]);
    expect(steps.triggers).toEqual([]);
  });

  test('hostile names are quoted everywhere', () => {
    const evil: AddForeignKey = {
      kind: 'addForeignKey',
      schema: 'My Schema',
      table: 'Order Items',
      name: 'fk "x"',
      columns: ['Order "Ref"'],
      references: { schema: 'public', table: 'select', columns: ['Weird"Quote'] },
    };
    const s = addForeignKeyHandler.steps(evil, facts, names, 0);
    expect(s.expand[0]!.sql).toBe(
      'ALTER TABLE "My Schema"."Order Items" ADD CONSTRAINT "fk ""x""" FOREIGN KEY ("Order ""Ref""") REFERENCES "public"."select" ("Weird""Quote") NOT VALID',
    );
    expect(s.verify[0]!.mismatch).toBe(
      '"My Schema"."Order Items"."Order ""Ref""" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "public"."select" AS "pgshift_ref" ' +
        'WHERE "pgshift_ref"."Weird""Quote" = "My Schema"."Order Items"."Order ""Ref""")',
    );
  });

  test('orders by the constraint name and by the columns on both sides', () => {
    expect(addForeignKeyHandler.columns(op)).toEqual([
      { schema: 'public', table: 'orders', column: 'constraint orders_customer_fkey' },
      { schema: 'public', table: 'orders', column: 'customer_id' },
      { schema: 'public', table: 'customers', column: 'id' },
    ]);
  });
});

describe('addForeignKey plan validation', () => {
  test('the documented shape; the TypeScript helper gives the same', () => {
    const fk = {
      kind: 'addForeignKey',
      table: 'orders',
      name: 'fk',
      columns: ['customer_id'],
      references: { table: 'customers', columns: ['id'] },
      onDelete: 'cascade',
    };
    expect(parseMigration({ id: 'x', operations: [fk] }, 'x').operations).toEqual([{ ...fk, schema: 'public' }]);
    const { kind: _kind, ...options } = fk;
    expect(defineMigration({ id: 'x', operations: [addForeignKey({ ...options, onDelete: 'cascade' })] })).toEqual({
      id: 'x',
      operations: [fk],
    });
  });

  test('every problem with its path', () => {
    expect(
      problems({
        id: 'x',
        operations: [
          {
            kind: 'addForeignKey',
            table: 'orders',
            name: 'fk',
            columns: [],
            references: { table: 'c', columns: ['id'], colour: 1 },
            onDelete: 'explode',
          },
          { kind: 'addForeignKey', table: 'orders', name: 'fk', columns: ['a', 'b', 'a'], references: 'customers', onUpdate: 'SET NULL' },
          { kind: 'addForeignKey', table: 'orders', name: 'fk', columns: ['a', 'b'], references: { table: 'c', columns: ['id'] } },
        ],
      }),
    ).toEqual([
      'operations[0].columns: must list at least one column',
      'operations[0].references.colour: unknown key',
      'operations[0].onDelete: expected one of "no action", "restrict", "cascade", "set null", "set default"',
      'operations[1].columns[2]: column a is already listed',
      'operations[1].references: expected an object',
      'operations[1].onUpdate: expected one of "no action", "restrict", "cascade", "set null", "set default"',
      'operations[2].references.columns: lists 1 column(s) for 2 in "columns"; they pair up one to one',
    ]);
  });
});
