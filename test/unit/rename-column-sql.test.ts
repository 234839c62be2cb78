import { describe, expect, test } from 'vitest';
import { objectNames } from '../../src/operations/blocks/names.js';
import { renameColumnHandler } from '../../src/operations/rename-column.js';
import type { RenameColumnFacts } from '../../src/operations/rename-column.js';
import type { RenameColumn } from '../../src/plan/model.js';
import { renderPlan } from '../../src/render-plan.js';

const op: RenameColumn = { kind: 'renameColumn', schema: 'public', table: 'users', from: 'email', to: 'email_address' };
const names = objectNames('20261121_rename_users_email', 0);
const h = names.hash;
const facts: RenameColumnFacts = {
  type: 'character varying(200)',
  collation: { schema: 'pg_catalog', name: 'C' },
  notNull: true,
  defaultExpr: "'x@y'::character varying",
  comment: "it's the email",
  key: { source: 'users_pkey', kind: 'primary key', columns: [{ name: 'id', type: 'bigint' }] },
};
const steps = renameColumnHandler.steps(op, facts, names, 0);
const sql = (list: { sql: string }[]) => list.map((s) => s.sql);

describe('renameColumn renders the exact SQL of each phase', () => {
  test('names are stable, short and derived from the migration and operation', () => {
    expect(names).toEqual(objectNames('20261121_rename_users_email', 0));
    expect(objectNames('20261121_rename_users_email', 1).hash).not.toBe(h);
    expect(names.trigger).toMatch(/^pgshift_sync_[0-9a-f]{12}$/);
  });

  test('expand: nullable column with type and collation, no default; comment copied', () => {
    expect(sql(steps.expand)).toEqual([
      'ALTER TABLE "public"."users" ADD COLUMN "email_address" character varying(200) COLLATE "pg_catalog"."C"',
      `COMMENT ON COLUMN "public"."users"."email_address" IS 'it''s the email'`,
    ]);
    expect(steps.expand.map((s) => [s.lock, s.tx])).toEqual([
      ['ACCESS EXCLUSIVE', 'phase'],
      ['SHARE UPDATE EXCLUSIVE', 'phase'],
    ]);
  });

  test('dual-write: one trigger function, both directions, no recursion', () => {
    expect(sql(steps.dualWrite)).toEqual([
      `CREATE OR REPLACE FUNCTION "pgshift"."sync_${h}"() RETURNS trigger LANGUAGE plpgsql AS $pgshift$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW."email_address" IS NULL THEN NEW."email_address" := NEW."email"; ELSE NEW."email" := NEW."email_address"; END IF;
  ELSIF NEW."email_address" IS DISTINCT FROM OLD."email_address" THEN
    NEW."email" := NEW."email_address";
  ELSE
    NEW."email_address" := NEW."email";
  END IF;
  RETURN NEW;
END
$pgshift$`,
      `CREATE TRIGGER "pgshift_sync_${h}" BEFORE INSERT OR UPDATE ON "public"."users" FOR EACH ROW WHEN (pg_catalog.current_setting('pgshift.backfill', true) IS DISTINCT FROM 'on') EXECUTE FUNCTION "pgshift"."sync_${h}"()`,
    ]);
    expect(steps.dualWrite[0]!.sql).not.toMatch(/\bUPDATE\s+"/);
  });

  test('backfill and verify: keyset over the key, value computed in the UPDATE', () => {
    const plan = renderPlan([steps]);
    expect(sql(plan.find((p) => p.phase === 'backfill')!.statements)).toEqual([
      'SELECT "id"::text AS k0 FROM "public"."users" WHERE "id" > $1::bigint AND "id" <= $2::bigint ORDER BY "id" LIMIT 1 OFFSET $3',
      'SELECT "id"::text AS k0 FROM "public"."users" WHERE "id" > $1::bigint AND "id" <= $2::bigint ORDER BY "id" DESC LIMIT 1',
      'UPDATE "public"."users" SET "email_address" = "email" WHERE "id" > $1::bigint AND "id" <= $2::bigint AND ("email_address" IS DISTINCT FROM "email")',
      // After the copy: the NOT NULL check, added NOT VALID and validated while writes go on.
      `ALTER TABLE "public"."users" ADD CONSTRAINT "pgshift_nn_${h}" CHECK ("email_address" IS NOT NULL) NOT VALID`,
      `ALTER TABLE "public"."users" VALIDATE CONSTRAINT "pgshift_nn_${h}"`,
    ]);
    expect(steps.afterBackfill.map((s) => [s.lock, s.tx])).toEqual([
      ['ACCESS EXCLUSIVE', 'own'],
      ['SHARE UPDATE EXCLUSIVE', 'own'],
    ]);
    expect(steps.afterBackfill[0]!.skipIf).toBe(
      `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = pg_catalog.to_regclass('"public"."users"') AND conname = 'pgshift_nn_${h}') AS done`,
    );
    expect(steps.afterBackfill[1]!.skipIf).toContain('AND convalidated) AS done');
    expect(sql(plan.find((p) => p.phase === 'verify')!.statements)).toEqual([
      'SELECT "id"::text AS k0 FROM "public"."users" WHERE "id" > $1::bigint AND "id" <= $2::bigint ORDER BY "id" LIMIT 1 OFFSET $3',
      'SELECT count(*)::int AS rows, count(*) FILTER (WHERE "email_address" IS DISTINCT FROM "email")::int AS mismatches FROM "public"."users" ' +
        'WHERE "id" > $1::bigint AND "id" <= $2::bigint',
      'SELECT "id"::text AS k0 FROM "public"."users" WHERE "id" > $1::bigint AND "id" <= $2::bigint AND ("email_address" IS DISTINCT FROM "email") ORDER BY "id" LIMIT $3',
    ]);
  });

  test('contract: NOT NULL from the validated check, then the swap, in one transaction', () => {
    expect(steps.contract.map((s) => [s.sql, s.lock, s.tx])).toEqual([
      ['ALTER TABLE "public"."users" ALTER COLUMN "email_address" SET NOT NULL', 'ACCESS EXCLUSIVE', 'phase'],
      [`ALTER TABLE "public"."users" DROP CONSTRAINT "pgshift_nn_${h}"`, 'ACCESS EXCLUSIVE', 'phase'],
      [`DROP TRIGGER "pgshift_sync_${h}" ON "public"."users"`, 'ACCESS EXCLUSIVE', 'phase'],
      [`DROP FUNCTION "pgshift"."sync_${h}"()`, 'none', 'phase'],
      [`ALTER TABLE "public"."users" ALTER COLUMN "email_address" SET DEFAULT 'x@y'::character varying`, 'ACCESS EXCLUSIVE', 'phase'],
      ['ALTER TABLE "public"."users" DROP COLUMN "email"', 'ACCESS EXCLUSIVE', 'phase'],
    ]);
  });

  test('contract of a nullable column without default: no check, no default', () => {
    const plain = renameColumnHandler.steps(op, { ...facts, notNull: false, defaultExpr: null, collation: null, comment: null }, names, 0);
    expect(sql(plain.expand)).toEqual(['ALTER TABLE "public"."users" ADD COLUMN "email_address" character varying(200)']);
    expect(sql(plain.contract)).toEqual([
      `DROP TRIGGER "pgshift_sync_${h}" ON "public"."users"`,
      `DROP FUNCTION "pgshift"."sync_${h}"()`,
      'ALTER TABLE "public"."users" DROP COLUMN "email"',
    ]);
  });

  test('rollback: idempotent undo of everything before contract', () => {
    expect(sql(steps.rollback)).toEqual([
      `ALTER TABLE "public"."users" DROP CONSTRAINT IF EXISTS "pgshift_nn_${h}"`,
      `DROP TRIGGER IF EXISTS "pgshift_sync_${h}" ON "public"."users"`,
      `DROP FUNCTION IF EXISTS "pgshift"."sync_${h}"()`,
      'ALTER TABLE "public"."users" DROP COLUMN IF EXISTS "email_address"',
    ]);
  });

  test('hostile names are quoted everywhere, and cannot close the function body quote', () => {
    const evil: RenameColumn = {
      kind: 'renameColumn',
      schema: 'S"s',
      table: 'Order Items',
      from: 'a$pgshift$b',
      to: 'x"; DROP TABLE t; --',
    };
    const s = renameColumnHandler.steps(evil, { ...facts, collation: null, comment: null }, names, 0);
    expect(s.expand[0]!.sql).toBe('ALTER TABLE "S""s"."Order Items" ADD COLUMN "x""; DROP TABLE t; --" character varying(200)');
    const fn = s.dualWrite[0]!.sql;
    expect(fn).toContain('AS $pgshift1$');
    expect(fn.endsWith('$pgshift1$')).toBe(true);
    expect(fn).toContain('NEW."a$pgshift$b" := NEW."x""; DROP TABLE t; --"');
  });
});
