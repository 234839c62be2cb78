import { describe, expect, test } from 'vitest';
import { PlanInvalidError } from '../../src/errors.js';
import { objectNames } from '../../src/operations/blocks/names.js';
import { setNotNullHandler } from '../../src/operations/set-not-null.js';
import type { SetNotNull } from '../../src/operations/set-not-null.js';
import type { SetNotNullFacts } from '../../src/operations/set-not-null.js';
import { defineMigration, setNotNull } from '../../src/plan/define.js';
import { parseMigration } from '../../src/plan/validate.js';
import { renderPlan } from '../../src/render-plan.js';

const op: SetNotNull = { kind: 'setNotNull', schema: 'public', table: 'orders', column: 'currency', fill: `'EUR'` };
const facts: SetNotNullFacts = { key: { source: 'orders_pkey', kind: 'primary key', columns: [{ name: 'id', type: 'bigint' }] } };
const names = objectNames('20261201_orders_currency_not_null', 0);
const steps = setNotNullHandler.steps(op, facts, names, 0);
const rows = (list: { sql: string; lock: string; tx: string }[]) => list.map((s) => [s.sql, s.lock, s.tx]);
const h = names.hash;

function problems(input: unknown): string[] {
  try {
    parseMigration(input, 'test');
  } catch (error) {
    if (error instanceof PlanInvalidError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  return [];
}

describe('setNotNull renders the exact SQL of each phase', () => {
  test("expand: nothing (a NOT VALID check now would break the old app's NULL writes)", () => {
    expect(steps.expand).toEqual([]);
  });

  test('dual-write: a trigger replacing a NULL with the fill value, required by the gate', () => {
    expect(rows(steps.dualWrite)).toEqual([
      [
        `CREATE OR REPLACE FUNCTION "pgshift"."sync_${h}"() RETURNS trigger LANGUAGE plpgsql AS $pgshift$\n` +
          `BEGIN\n  IF NEW."currency" IS NULL THEN NEW."currency" := ('EUR'); END IF;\n  RETURN NEW;\nEND\n$pgshift$`,
        'none',
        'phase',
      ],
      [
        `CREATE TRIGGER "pgshift_sync_${h}" BEFORE INSERT OR UPDATE ON "public"."orders" FOR EACH ROW WHEN (pg_catalog.current_setting('pgshift.backfill', true) IS DISTINCT FROM 'on') EXECUTE FUNCTION "pgshift"."sync_${h}"()`,
        'SHARE ROW EXCLUSIVE',
        'phase',
      ],
    ]);
    expect(steps.triggers).toEqual([{ table: { schema: 'public', name: 'orders' }, name: `pgshift_sync_${h}` }]);
  });

  test('backfill: keyset UPDATE of the NULL rows only; verify: the rows still NULL', () => {
    expect(steps.backfill).toEqual([
      {
        id: '0.backfill',
        table: { schema: 'public', name: 'orders' },
        key: facts.key.columns,
        set: [{ column: 'currency', expression: `('EUR')` }],
        pending: '"currency" IS NULL',
      },
    ]);
    expect(steps.verify).toEqual([
      {
        id: '0.verify',
        table: { schema: 'public', name: 'orders' },
        key: facts.key.columns,
        mismatch: '"currency" IS NULL',
        description: 'currency is not NULL',
      },
    ]);
    const sql = renderPlan([steps]).flatMap((p) => p.statements.map((s) => s.sql));
    expect(sql).toContain(
      `UPDATE "public"."orders" SET "currency" = ('EUR') WHERE "id" > $1::bigint AND "id" <= $2::bigint AND ("currency" IS NULL)`,
    );
  });

  test('contract: CHECK NOT VALID and VALIDATE in their own transactions, then SET NOT NULL, drop the check and the trigger', () => {
    expect(rows(steps.contract)).toEqual([
      [
        `ALTER TABLE "public"."orders" ADD CONSTRAINT "pgshift_nn_${h}" CHECK ("currency" IS NOT NULL) NOT VALID`,
        'ACCESS EXCLUSIVE',
        'own',
      ],
      [`ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "pgshift_nn_${h}"`, 'SHARE UPDATE EXCLUSIVE', 'own'],
      ['ALTER TABLE "public"."orders" ALTER COLUMN "currency" SET NOT NULL', 'ACCESS EXCLUSIVE', 'phase'],
      [`ALTER TABLE "public"."orders" DROP CONSTRAINT "pgshift_nn_${h}"`, 'ACCESS EXCLUSIVE', 'phase'],
      [`DROP TRIGGER "pgshift_sync_${h}" ON "public"."orders"`, 'ACCESS EXCLUSIVE', 'phase'],
      [`DROP FUNCTION "pgshift"."sync_${h}"()`, 'none', 'phase'],
    ]);
    expect(steps.contract[0]!.skipIf).toBe(
      `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = pg_catalog.to_regclass('"public"."orders"') AND conname = 'pgshift_nn_${h}') AS done`,
    );
    expect(steps.contract[1]!.skipIf).toBe(
      `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = pg_catalog.to_regclass('"public"."orders"') AND conname = 'pgshift_nn_${h}' AND convalidated) AS done`,
    );
  });

  test('rollback: idempotent drops of the check, the trigger and the function', () => {
    expect(rows(steps.rollback)).toEqual([
      [`ALTER TABLE "public"."orders" DROP CONSTRAINT IF EXISTS "pgshift_nn_${h}"`, 'ACCESS EXCLUSIVE', 'phase'],
      [`DROP TRIGGER IF EXISTS "pgshift_sync_${h}" ON "public"."orders"`, 'ACCESS EXCLUSIVE', 'phase'],
      [`DROP FUNCTION IF EXISTS "pgshift"."sync_${h}"()`, 'none', 'phase'],
    ]);
  });

  test('without fill (no NULLs at inspect): no trigger, no backfill, only the verification and the contract', () => {
    const s = setNotNullHandler.steps({ ...op, fill: undefined }, facts, names, 0);
    expect(s.dualWrite).toEqual([]);
    expect(s.backfill).toEqual([]);
    expect(s.triggers).toEqual([]);
    expect(s.verify.map((v) => v.mismatch)).toEqual(['"currency" IS NULL']);
    expect(s.contract.map((c) => c.id)).toEqual([
      '0.contract.not-null-check',
      '0.contract.validate-check',
      '0.contract.set-not-null',
      '0.contract.drop-check',
    ]);
    expect(s.rollback.map((c) => c.id)).toEqual(['0.rollback.drop-check']);
  });

  test('hostile names are quoted; the fill goes verbatim inside parentheses, inside a dollar quote it cannot close', () => {
    const evil: SetNotNull = { kind: 'setNotNull', schema: 'S"s', table: 'Order Items', column: 'Weird"Quote', fill: `'$pgshift$ "x"'` };
    const s = setNotNullHandler.steps(evil, facts, names, 2);
    expect(s.dualWrite[0]!.sql).toContain(
      `AS $pgshift1$\nBEGIN\n  IF NEW."Weird""Quote" IS NULL THEN NEW."Weird""Quote" := ('$pgshift$ "x"'); END IF;`,
    );
    expect(s.contract[2]!.sql).toBe(`ALTER TABLE "S""s"."Order Items" ALTER COLUMN "Weird""Quote" SET NOT NULL`);
    expect(s.contract[0]!.sql).toBe(
      `ALTER TABLE "S""s"."Order Items" ADD CONSTRAINT "pgshift_nn_${h}" CHECK ("Weird""Quote" IS NOT NULL) NOT VALID`,
    );
    expect(s.verify[0]!.mismatch).toBe('"Weird""Quote" IS NULL');
    expect(s.rollback[0]!.id).toBe('2.rollback.drop-check');
  });

  test('describe and the column it holds', () => {
    expect(setNotNullHandler.describe(op)).toBe('set orders.currency NOT NULL');
    expect(setNotNullHandler.columns(op)).toEqual([{ schema: 'public', table: 'orders', column: 'currency' }]);
  });
});

describe('setNotNull plans', () => {
  test('the builder gives the same plan as JSON', () => {
    const plan = defineMigration({ id: '20261201_x', operations: [setNotNull({ table: 'orders', column: 'currency', fill: `'EUR'` })] });
    expect(parseMigration(plan, 'test').operations).toEqual([op]);
  });

  test('unknown keys, a missing column, an empty fill are reported at their paths', () => {
    expect(problems({ id: 'x', operations: [{ kind: 'setNotNull', table: 'orders', fill: '', colour: 1 }] })).toEqual([
      'operations[0].column: required',
      'operations[0].fill: must not be empty',
      'operations[0].colour: unknown key',
    ]);
  });
});
