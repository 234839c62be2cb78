import { describe, expect, test } from 'vitest';
import { PlanInvalidError } from '../../src/errors.js';
import { addCheckHandler } from '../../src/operations/add-check.js';
import type { AddCheck } from '../../src/operations/add-check.js';
import { objectNames } from '../../src/operations/blocks/names.js';
import type { AddCheckFacts } from '../../src/operations/add-check.js';
import { addCheck, defineMigration } from '../../src/plan/define.js';
import { parseMigration } from '../../src/plan/validate.js';
import { renderPlan } from '../../src/render-plan.js';

const op: AddCheck = { kind: 'addCheck', schema: 'public', table: 'orders', name: 'orders_amount_positive', check: 'amount > 0' };
const facts: AddCheckFacts = { key: { source: 'orders_pkey', kind: 'primary key', columns: [{ name: 'id', type: 'bigint' }] } };
const names = objectNames('20261201_orders_amount_positive', 0);
const steps = addCheckHandler.steps(op, facts, names, 0);
const rows = (list: { sql: string; lock: string; tx: string }[]) => list.map((s) => [s.sql, s.lock, s.tx]);

function problems(input: unknown): string[] {
  try {
    parseMigration(input, 'test');
  } catch (error) {
    if (error instanceof PlanInvalidError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  return [];
}

describe('addCheck renders the exact SQL of each phase', () => {
  test('expand: NOT VALID in the phase transaction (instant, enforced on new writes)', () => {
    expect(rows(steps.expand)).toEqual([
      ['ALTER TABLE "public"."orders" ADD CONSTRAINT "orders_amount_positive" CHECK (amount > 0) NOT VALID', 'ACCESS EXCLUSIVE', 'phase'],
    ]);
  });

  test('dual-write and backfill: nothing; no trigger for the gate to require', () => {
    expect(steps.dualWrite).toEqual([]);
    expect(steps.backfill).toEqual([]);
    expect(steps.triggers).toEqual([]);
  });

  test('verify: rows where the expression is false (NULL passes, as in a CHECK), over the batch key', () => {
    expect(steps.verify).toEqual([
      {
        id: '0.verify',
        table: { schema: 'public', name: 'orders' },
        key: facts.key.columns,
        mismatch: '(amount > 0) IS FALSE',
        description: 'check orders_amount_positive holds',
      },
    ]);
    const verify = renderPlan([steps])
      .find((p) => p.phase === 'verify')!
      .statements.map((s) => s.sql);
    expect(verify).toContain(
      'SELECT count(*)::int AS rows, count(*) FILTER (WHERE (amount > 0) IS FALSE)::int AS mismatches FROM "public"."orders" WHERE "id" > $1::bigint AND "id" <= $2::bigint',
    );
    expect(steps.checks.map((c) => c.sql)).toEqual([
      `SELECT count(*) FILTER (WHERE contype = 'c') = 1 AS ok, CASE WHEN count(*) FILTER (WHERE contype = 'c') = 1 THEN NULL ` +
        `ELSE 'check constraint orders_amount_positive on orders is missing' END AS detail ` +
        `FROM pg_catalog.pg_constraint WHERE conrelid = pg_catalog.to_regclass('"public"."orders"') AND conname = 'orders_amount_positive'`,
    ]);
  });

  test('contract: VALIDATE in its own transaction, skipped once validated', () => {
    expect(rows(steps.contract)).toEqual([
      ['ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "orders_amount_positive"', 'SHARE UPDATE EXCLUSIVE', 'own'],
    ]);
    expect(steps.contract[0]!.skipIf).toBe(
      `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = pg_catalog.to_regclass('"public"."orders"') ` +
        `AND conname = 'orders_amount_positive' AND convalidated) AS done`,
    );
  });

  test('rollback: idempotent drop', () => {
    expect(rows(steps.rollback)).toEqual([
      ['ALTER TABLE "public"."orders" DROP CONSTRAINT IF EXISTS "orders_amount_positive"', 'ACCESS EXCLUSIVE', 'phase'],
    ]);
  });

  test('hostile names are quoted; the expression goes verbatim inside parentheses, never rewritten', () => {
    const evil: AddCheck = {
      kind: 'addCheck',
      schema: 'S"s',
      table: 'Order Items',
      name: 'ck "positive"; --',
      check: `"Qty ""x""" > 0 AND note <> 'id'`,
    };
    const s = addCheckHandler.steps(evil, facts, names, 2);
    expect(s.expand[0]!.sql).toBe(
      `ALTER TABLE "S""s"."Order Items" ADD CONSTRAINT "ck ""positive""; --" CHECK ("Qty ""x""" > 0 AND note <> 'id') NOT VALID`,
    );
    expect(s.verify[0]!.mismatch).toBe(`("Qty ""x""" > 0 AND note <> 'id') IS FALSE`);
    expect(s.contract[0]!.sql).toBe(`ALTER TABLE "S""s"."Order Items" VALIDATE CONSTRAINT "ck ""positive""; --"`);
    expect(s.contract[0]!.skipIf).toContain(`to_regclass('"S""s"."Order Items"') AND conname = 'ck "positive"; --' AND convalidated`);
    expect(s.rollback[0]!.id).toBe('2.rollback.drop-constraint');
  });

  test('orders after other migrations by the constraint name on its table', () => {
    expect(addCheckHandler.columns(op)).toEqual([{ schema: 'public', table: 'orders', column: 'constraint orders_amount_positive' }]);
    expect(addCheckHandler.describe(op)).toBe('add CHECK orders_amount_positive to orders');
  });
});

describe('addCheck plan validation', () => {
  test('the documented shape, schema filled in; the TypeScript helper gives the same', () => {
    const input = { id: '20261201_ck', operations: [{ kind: 'addCheck', table: 'orders', name: 'ck', check: 'amount > 0' }] };
    expect(parseMigration(input, 'x').operations).toEqual([
      { kind: 'addCheck', schema: 'public', table: 'orders', name: 'ck', check: 'amount > 0' },
    ]);
    expect(defineMigration({ id: '20261201_ck', operations: [addCheck({ table: 'orders', name: 'ck', check: 'amount > 0' })] })).toEqual(
      input,
    );
  });

  test('every problem with its path', () => {
    expect(
      problems({
        id: 'x',
        operations: [
          { kind: 'addCheck', table: 'orders', check: '', colour: 1 },
          { kind: 'addCheck', table: 'o', name: 7, check: 'a\0' },
        ],
      }),
    ).toEqual([
      'operations[0].name: required',
      'operations[0].check: must not be empty',
      'operations[0].colour: unknown key',
      'operations[1].name: expected a string',
      'operations[1].check: contains a NUL character',
    ]);
  });

  test('the same constraint twice in one plan', () => {
    const ck = { kind: 'addCheck', table: 'orders', name: 'ck', check: 'true' };
    expect(problems({ id: 'x', operations: [ck, { ...ck, check: 'false' }, { ...ck, table: 'other' }] })).toEqual([
      'operations[1].name: constraint ck is already added by operations[0]',
    ]);
  });
});
