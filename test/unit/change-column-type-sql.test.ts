import { describe, expect, test } from 'vitest';
import { changeColumnTypeHandler, shadowName, type ChangeColumnTypeFacts } from '../../src/operations/change-column-type.js';
import type { ChangeColumnType } from '../../src/operations/change-column-type.js';
import { objectNames } from '../../src/operations/blocks/names.js';

const op: ChangeColumnType = {
  kind: 'changeColumnType',
  schema: 'public',
  table: 'orders',
  column: 'price',
  type: 'numeric(12,2)',
  using: `nullif(price, '')::numeric(12,2)`,
  reverse: `coalesce(price::text, '')`,
};
const names = objectNames('20261210_price', 0);
const h = names.hash;
const facts: ChangeColumnTypeFacts = {
  type: 'numeric(12,2)',
  collation: null,
  notNull: false,
  comment: null,
  key: { source: 'orders_pkey', kind: 'primary key', columns: [{ name: 'id', type: 'bigint' }] },
  oldType: 'text',
  carry: {
    type: 'numeric(12,2)',
    collation: null,
    indexes: [
      {
        name: 'orders_price',
        unique: false,
        shape: 'USING btree (price_new)',
        columns: ['price'],
        where: null,
        constraint: null,
        replicaIdentity: false,
      },
    ],
    constraints: [
      {
        name: 'price_pos',
        table: { schema: 'public', name: 'orders' },
        definition: 'CHECK ((price_new > (0)::numeric))',
        validated: true,
        kind: 'check',
      },
    ],
    defaultExpr: '0.00',
    ownedSequence: null,
    identity: null,
    grants: [],
  },
};
const steps = changeColumnTypeHandler.steps(op, facts, names, 0);
const sql = (list: { sql: string }[]) => list.map((s) => s.sql);

describe('changeColumnType renders the exact SQL of each phase', () => {
  test('the shadow is <column>_new unless named, cut to 63 bytes', () => {
    expect(shadowName(op)).toBe('price_new');
    expect(shadowName({ ...op, shadow: 'price v2' })).toBe('price v2');
    expect(Buffer.byteLength(shadowName({ ...op, column: 'é'.repeat(40) }))).toBeLessThanOrEqual(63);
  });

  test('expand adds the shadow with the new type; the trigger computes each side with the expressions', () => {
    expect(sql(steps.expand)).toEqual(['ALTER TABLE "public"."orders" ADD COLUMN "price_new" numeric(12,2)']);
    const body = steps.dualWrite[0]!.sql;
    expect(body).toContain(
      `IF NEW."price_new" IS NULL THEN NEW."price_new" := (nullif(NEW."price", '')::numeric(12,2)); ELSE NEW."price" := (coalesce(NEW."price_new"::text, '')); END IF;`,
    );
    // A shadow set to up(old row), as the backfill does, leaves the old column alone.
    expect(body).toContain(
      `ELSIF NEW."price_new" IS DISTINCT FROM OLD."price_new" THEN\n    IF NEW."price_new" IS DISTINCT FROM (nullif(NEW."price", '')::numeric(12,2)) THEN NEW."price" := (coalesce(NEW."price_new"::text, '')); END IF;`,
    );
    // An UPDATE of another column leaves a shadow value alone; a change to what USING reads recomputes it.
    expect(body).toContain(
      `  ELSIF NEW."price" IS DISTINCT FROM OLD."price" OR NEW."price_new" IS NULL THEN\n    NEW."price_new" := (nullif(NEW."price", '')::numeric(12,2));`,
    );
  });

  test('backfill computes with USING; indexes and constraints follow the copy', () => {
    expect(steps.backfill[0]!.set).toEqual([{ column: 'price_new', expression: `(nullif("price", '')::numeric(12,2))` }]);
    // Pending (and a verification mismatch) when neither direction holds: a new-app row whose old
    // value came from a lossy reverse is in step, and the backfill leaves it alone.
    // A NULL shadow is never in step through `reverse` (coalesce(NULL::text, '') = '' would say so).
    expect(steps.backfill[0]!.pending).toBe(
      `"price_new" IS DISTINCT FROM (nullif("price", '')::numeric(12,2)) AND ("price_new" IS NULL OR "price" IS DISTINCT FROM (coalesce("price_new"::text, '')))`,
    );
    expect(steps.verify[0]!.mismatch).toBe(steps.backfill[0]!.pending);
    expect(steps.afterBackfill.map((s) => [s.sql, s.lock, s.tx])).toEqual([
      [`CREATE INDEX CONCURRENTLY "pgshift_${h}_i0" ON "public"."orders" USING btree (price_new)`, 'SHARE UPDATE EXCLUSIVE', 'none'],
      [
        `ALTER TABLE "public"."orders" ADD CONSTRAINT "pgshift_${h}_c0" CHECK ((price_new > (0)::numeric)) NOT VALID`,
        'ACCESS EXCLUSIVE',
        'own',
      ],
      [`ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "pgshift_${h}_c0"`, 'SHARE UPDATE EXCLUSIVE', 'own'],
    ]);
    expect(steps.afterBackfill[0]!.index).toMatchObject({ action: 'create', name: `pgshift_${h}_i0`, columns: ['price_new'] });
    expect(steps.checks.map((c) => c.description)).toEqual([
      `index pgshift_${h}_i0 (the future orders_price) is valid`,
      `check pgshift_${h}_c0 (the future price_pos) exists and is validated`,
    ]);
  });

  test('contract swaps in one transaction: old column out, shadow renamed, objects take the old names', () => {
    expect(steps.contract.map((s) => [s.sql, s.tx])).toEqual([
      [`DROP TRIGGER "pgshift_sync_${h}" ON "public"."orders"`, 'phase'],
      [`DROP FUNCTION "pgshift"."sync_${h}"()`, 'phase'],
      ['ALTER TABLE "public"."orders" ALTER COLUMN "price_new" SET DEFAULT 0.00', 'phase'],
      ['ALTER TABLE "public"."orders" DROP COLUMN "price"', 'phase'],
      ['ALTER TABLE "public"."orders" RENAME COLUMN "price_new" TO "price"', 'phase'],
      [`ALTER INDEX "public"."pgshift_${h}_i0" RENAME TO "orders_price"`, 'phase'],
      [`ALTER TABLE "public"."orders" RENAME CONSTRAINT "pgshift_${h}_c0" TO "price_pos"`, 'phase'],
    ]);
  });

  test('rollback drops the shadow, and with it the copies built on it, idempotently', () => {
    expect(sql(steps.rollback)).toEqual([
      `ALTER TABLE "public"."orders" DROP CONSTRAINT IF EXISTS "pgshift_nn_${h}"`,
      `DROP TRIGGER IF EXISTS "pgshift_sync_${h}" ON "public"."orders"`,
      `DROP FUNCTION IF EXISTS "pgshift"."sync_${h}"()`,
      'ALTER TABLE "public"."orders" DROP COLUMN IF EXISTS "price_new"',
    ]);
  });
});
