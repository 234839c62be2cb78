import { describe, expect, test } from 'vitest';
import { addColumnHandler } from '../../src/operations/add-column.js';
import type { AddColumn } from '../../src/operations/add-column.js';
import { objectNames } from '../../src/operations/blocks/names.js';
import type { AddColumnFacts } from '../../src/operations/add-column.js';
import { addColumn, defineMigration } from '../../src/plan/define.js';
import { parseMigration } from '../../src/plan/validate.js';

const key = { source: 'orders_pkey', kind: 'primary key' as const, columns: [{ name: 'id', type: 'bigint' }] };
const names = objectNames('20261201_orders_add_columns', 0);
const h = names.hash;
const base = { kind: 'addColumn' as const, schema: 'public', table: 'orders', notNull: false };
const rows = (list: { sql: string; lock: string; tx: string }[]) => list.map((s) => [s.sql, s.lock, s.tx]);
const render = (op: AddColumn, facts: AddColumnFacts = { key, volatileDefault: false }) => addColumnHandler.steps(op, facts, names, 0);

describe('addColumn renders the exact SQL of each phase', () => {
  test('plain nullable column: ADD COLUMN, nothing to backfill or verify, DROP COLUMN IF EXISTS as the undo', () => {
    const s = render({ ...base, column: 'note', type: 'text' });
    expect(rows(s.expand)).toEqual([['ALTER TABLE "public"."orders" ADD COLUMN "note" text', 'ACCESS EXCLUSIVE', 'phase']]);
    expect([s.dualWrite, s.backfill, s.verify, s.contract, s.triggers]).toEqual([[], [], [], [], []]);
    expect(rows(s.rollback)).toEqual([['ALTER TABLE "public"."orders" DROP COLUMN IF EXISTS "note"', 'ACCESS EXCLUSIVE', 'phase']]);
  });

  test('non-volatile default: in ADD COLUMN (no rewrite, existing rows read it from the catalog), no backfill', () => {
    const s = render({ ...base, column: 'status', type: 'text', default: `'new'`, notNull: true });
    expect(rows(s.expand)).toEqual([
      [`ALTER TABLE "public"."orders" ADD COLUMN "status" text DEFAULT ('new')`, 'ACCESS EXCLUSIVE', 'phase'],
    ]);
    expect(s.backfill).toEqual([]);
    expect(s.verify.map((v) => v.mismatch)).toEqual(['"status" IS NULL']);
    expect(rows(s.contract)).toEqual([
      [`ALTER TABLE "public"."orders" ADD CONSTRAINT "pgshift_nn_${h}" CHECK ("status" IS NOT NULL) NOT VALID`, 'ACCESS EXCLUSIVE', 'own'],
      [`ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "pgshift_nn_${h}"`, 'SHARE UPDATE EXCLUSIVE', 'own'],
      ['ALTER TABLE "public"."orders" ALTER COLUMN "status" SET NOT NULL', 'ACCESS EXCLUSIVE', 'phase'],
      [`ALTER TABLE "public"."orders" DROP CONSTRAINT "pgshift_nn_${h}"`, 'ACCESS EXCLUSIVE', 'phase'],
    ]);
    expect(s.contract[1]!.skipIf).toContain(`AND conname = 'pgshift_nn_${h}' AND convalidated) AS done`);
    expect(rows(s.rollback)).toEqual([
      [`ALTER TABLE "public"."orders" DROP CONSTRAINT IF EXISTS "pgshift_nn_${h}"`, 'ACCESS EXCLUSIVE', 'phase'],
      ['ALTER TABLE "public"."orders" DROP COLUMN IF EXISTS "status"', 'ACCESS EXCLUSIVE', 'phase'],
    ]);
  });

  test('volatile default: ADD COLUMN without it, SET DEFAULT for new rows, the backfill evaluates it per existing row', () => {
    const s = render({ ...base, column: 'created_at', type: 'timestamptz', default: 'clock_timestamp()' }, { key, volatileDefault: true });
    expect(rows(s.expand)).toEqual([
      ['ALTER TABLE "public"."orders" ADD COLUMN "created_at" timestamptz', 'ACCESS EXCLUSIVE', 'phase'],
      ['ALTER TABLE "public"."orders" ALTER COLUMN "created_at" SET DEFAULT (clock_timestamp())', 'ACCESS EXCLUSIVE', 'phase'],
    ]);
    expect(s.backfill).toEqual([
      {
        id: '0.backfill',
        table: { schema: 'public', name: 'orders' },
        key: key.columns,
        set: [{ column: 'created_at', expression: '(clock_timestamp())' }],
        pending: '"created_at" IS NULL',
      },
    ]);
    expect(s.dualWrite).toEqual([]);
  });

  test('backfill expression: a trigger computes it over the row for writes without the column; dropped at contract', () => {
    const s = render({ ...base, column: 'total', type: 'numeric(14,2)', backfill: 'price * qty', notNull: true });
    expect(rows(s.dualWrite)).toEqual([
      [
        `CREATE OR REPLACE FUNCTION "pgshift"."sync_${h}"() RETURNS trigger LANGUAGE plpgsql AS $pgshift$\n#variable_conflict use_column\nBEGIN\n` +
          `  IF NEW."total" IS NULL THEN\n    NEW."total" := (SELECT (price * qty) FROM (SELECT (NEW).*) AS "orders");\n  END IF;\n  RETURN NEW;\nEND\n$pgshift$`,
        'none',
        'phase',
      ],
      [
        `CREATE TRIGGER "pgshift_sync_${h}" BEFORE INSERT OR UPDATE ON "public"."orders" FOR EACH ROW WHEN (pg_catalog.current_setting('pgshift.backfill', true) IS DISTINCT FROM 'on') EXECUTE FUNCTION "pgshift"."sync_${h}"()`,
        'SHARE ROW EXCLUSIVE',
        'phase',
      ],
    ]);
    expect(s.backfill[0]!.set).toEqual([{ column: 'total', expression: '(price * qty)' }]);
    expect(s.triggers).toEqual([{ table: { schema: 'public', name: 'orders' }, name: `pgshift_sync_${h}` }]);
    expect(s.contract.map((c) => c.id)).toEqual([
      '0.contract.not-null-check',
      '0.contract.validate-check',
      '0.contract.set-not-null',
      '0.contract.drop-check',
      '0.contract.drop-trigger',
      '0.contract.drop-function',
    ]);
    expect(rows(s.rollback).map((r) => r[0])).toEqual([
      `ALTER TABLE "public"."orders" DROP CONSTRAINT IF EXISTS "pgshift_nn_${h}"`,
      `DROP TRIGGER IF EXISTS "pgshift_sync_${h}" ON "public"."orders"`,
      `DROP FUNCTION IF EXISTS "pgshift"."sync_${h}"()`,
      'ALTER TABLE "public"."orders" DROP COLUMN IF EXISTS "total"',
    ]);
  });

  test('hostile names are quoted; expressions go verbatim inside parentheses', () => {
    const s = render({
      ...base,
      schema: 'S"s',
      table: 'Order Items',
      column: 'Weird"Quote',
      type: 'text',
      backfill: `'$pgshift$' || "e mail"`,
    });
    expect(s.expand[0]!.sql).toBe(`ALTER TABLE "S""s"."Order Items" ADD COLUMN "Weird""Quote" text`);
    expect(s.dualWrite[0]!.sql).toContain(`AS $pgshift1$`);
    expect(s.dualWrite[0]!.sql).toContain(
      `NEW."Weird""Quote" := (SELECT ('$pgshift$' || "e mail") FROM (SELECT (NEW).*) AS "Order Items");`,
    );
  });

  test('the builder gives the same plan as JSON; notNull defaults to false', () => {
    const plan = defineMigration({ id: '20261201_x', operations: [addColumn({ table: 'orders', column: 'note', type: 'text' })] });
    expect(parseMigration(plan, 'test').operations).toEqual([{ ...base, column: 'note', type: 'text' }]);
    expect(addColumnHandler.columns({ ...base, column: 'note', type: 'text' })).toEqual([
      { schema: 'public', table: 'orders', column: 'note' },
    ]);
  });
});
