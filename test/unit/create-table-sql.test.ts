import { describe, expect, test } from 'vitest';
import { PlanInvalidError } from '../../src/errors.js';
import { createTableHandler } from '../../src/operations/create-table.js';
import type { CreateTable } from '../../src/operations/create-table.js';
import { objectNames } from '../../src/operations/blocks/names.js';
import { createTable, defineMigration } from '../../src/plan/define.js';
import { parseMigration } from '../../src/plan/validate.js';

const names = objectNames('20261121_table', 0);
const parse = (operations: unknown[]) => parseMigration({ id: '20261121_table', operations }, 'test');
const parsed = (op: Record<string, unknown>) => parse([{ kind: 'createTable', ...op }]).operations[0] as CreateTable;

function problems(operations: unknown[]): string[] {
  try {
    parse(operations);
    return [];
  } catch (error) {
    if (!(error instanceof PlanInvalidError)) throw error;
    return error.problems.map((p) => `${p.path}: ${p.message}`);
  }
}

describe('createTable renders the exact SQL of each phase', () => {
  test('expand: CREATE TABLE in the phase transaction; rollback: a guarded DROP that refuses a table with rows', () => {
    const op = parsed({
      table: 'invoices',
      columns: [
        { name: 'id', type: 'bigint GENERATED ALWAYS AS IDENTITY', primaryKey: true },
        { name: 'total', type: 'numeric(10,2)', notNull: true, default: '0' },
        { name: 'note', type: 'text' },
      ],
    });
    const steps = createTableHandler.steps(op, {}, names, 0);
    expect(steps.expand).toEqual([
      {
        id: '0.expand.create-table',
        description: 'create table invoices (new and empty: no other table is locked)',
        sql: 'CREATE TABLE "public"."invoices" ("id" bigint GENERATED ALWAYS AS IDENTITY, "total" numeric(10,2) NOT NULL DEFAULT (0), "note" text, PRIMARY KEY ("id"))',
        lock: 'none',
        table: null,
        tx: 'phase',
      },
    ]);
    expect([steps.dualWrite, steps.backfill, steps.verify, steps.contract, steps.triggers]).toEqual([[], [], [], [], []]);
    expect(steps.checks.map((c) => [c.id, c.sql])).toEqual([
      [
        '0.verify.table-present',
        `SELECT pg_catalog.to_regclass('"public"."invoices"') IS NOT NULL AS ok, CASE WHEN pg_catalog.to_regclass('"public"."invoices"') IS NULL THEN 'table invoices is missing' END AS detail`,
      ],
    ]);
    expect(steps.rollback.map((s) => [s.id, s.lock, s.tx])).toEqual([['0.rollback.drop-table', 'ACCESS EXCLUSIVE', 'phase']]);
    expect(steps.rollback[0]!.sql).toBe(
      [
        'DO $pgshift$',
        'BEGIN',
        `  IF pg_catalog.to_regclass('"public"."invoices"') IS NULL THEN RETURN; END IF;`,
        '  LOCK TABLE "public"."invoices" IN ACCESS EXCLUSIVE MODE;',
        '  IF EXISTS (SELECT 1 FROM "public"."invoices") THEN',
        `    RAISE EXCEPTION USING ERRCODE = 'PGS02', MESSAGE = 'table invoices has rows; rollback does not drop app data',`,
        `      HINT = 'delete the rows first if they may go, or keep the table and write a migration that drops it';`,
        '  END IF;',
        '  DROP TABLE "public"."invoices";',
        'END',
        '$pgshift$',
      ].join('\n'),
    );
  });

  test('a composite primary key; hostile names quoted everywhere', () => {
    const op = parsed({
      schema: 'Odd Schema',
      table: `Order Items'`,
      columns: [
        { name: 'Weird"Quote', type: 'text' },
        { name: 'select', type: 'int' },
      ],
      primaryKey: ['select', 'Weird"Quote'],
    });
    const steps = createTableHandler.steps(op, {}, names, 2);
    expect(steps.expand[0]!.sql).toBe(
      `CREATE TABLE "Odd Schema"."Order Items'" ("Weird""Quote" text, "select" int, PRIMARY KEY ("select", "Weird""Quote"))`,
    );
    expect(steps.rollback[0]!.sql).toContain(`IF pg_catalog.to_regclass('"Odd Schema"."Order Items''"') IS NULL`);
    expect(steps.rollback[0]!.sql).toContain(`DROP TABLE "Odd Schema"."Order Items'";`);
    expect(createTableHandler.columns(op)).toEqual([
      { schema: 'Odd Schema', table: `Order Items'`, column: '(table)' },
      { schema: 'Odd Schema', table: `Order Items'`, column: 'Weird"Quote' },
      { schema: 'Odd Schema', table: `Order Items'`, column: 'select' },
    ]);
  });
});

describe('createTable plan validation', () => {
  test('the builder gives the same plan as JSON, with defaults', () => {
    const m = parseMigration(
      defineMigration({ id: '20261121_table', operations: [createTable({ table: 't', columns: [{ name: 'id', type: 'int' }] })] }),
      'ts',
    );
    expect(m.operations).toEqual([
      { kind: 'createTable', schema: 'public', table: 't', columns: [{ name: 'id', type: 'int', notNull: false, primaryKey: false }] },
    ]);
  });

  test('every problem at once, each with its path', () => {
    expect(problems([{ kind: 'createTable', table: 't', columns: [{ name: '', type: '', notNull: 'yes', colour: 1 }, 7] }])).toEqual([
      'operations[0].columns[0].name: must not be empty',
      'operations[0].columns[0].type: must not be empty',
      'operations[0].columns[0].notNull: expected true or false',
      'operations[0].columns[0].colour: unknown key',
      'operations[0].columns[1]: expected an object',
    ]);
    expect(
      problems([
        {
          kind: 'createTable',
          table: 't',
          columns: [
            { name: 'a', type: 'int', primaryKey: true },
            { name: 'a', type: 'int', primaryKey: true },
          ],
          primaryKey: ['a', 'b', 'a'],
        },
      ]),
    ).toEqual([
      'operations[0].columns[1].name: column a is already listed',
      `operations[0].columns[1].primaryKey: only one column may be marked; list several in the table's "primaryKey"`,
      'operations[0].primaryKey: columns[0] is already marked primaryKey; use one or the other',
      'operations[0].primaryKey[1]: column b is not among "columns"',
      'operations[0].primaryKey[2]: column a is already listed',
    ]);
    expect(problems([{ kind: 'createTable', table: 't', columns: [] }])).toEqual(['operations[0].columns: must list at least one column']);
  });
});
