import { describe, expect, test } from 'vitest';
import { PlanInvalidError } from '../../src/errors.js';
import { addUniqueHandler } from '../../src/operations/add-unique.js';
import type { AddUnique } from '../../src/operations/add-unique.js';
import { objectNames } from '../../src/operations/blocks/names.js';
import { addUnique, defineMigration } from '../../src/plan/define.js';
import { parseMigration } from '../../src/plan/validate.js';
import { renderPlan } from '../../src/render-plan.js';

const names = objectNames('20261121_unique', 0);
const parse = (operations: unknown[]) => parseMigration({ id: '20261121_unique', operations }, 'test');
const parsed = (op: Omit<AddUnique, 'kind' | 'schema'> & Partial<AddUnique>) =>
  parse([{ kind: 'addUnique', ...op }]).operations[0] as AddUnique;

function problems(operations: unknown[]): string[] {
  try {
    parse(operations);
    return [];
  } catch (error) {
    if (!(error instanceof PlanInvalidError)) throw error;
    return error.problems.map((p) => `${p.path}: ${p.message}`);
  }
}

describe('addUnique renders the exact SQL of each phase', () => {
  test('expand builds the index CONCURRENTLY; contract attaches it as the constraint; rollback drops it CONCURRENTLY', () => {
    const op = parsed({ table: 'accounts', name: 'accounts_email_key', columns: ['email', 'tenant_id'] });
    const steps = addUniqueHandler.steps(op, { existing: 'none' }, names, 0);
    expect(steps.expand).toEqual([
      {
        id: '0.expand.create-unique-index',
        description: 'build unique index accounts_email_key on accounts while reads and writes go on',
        sql: 'CREATE UNIQUE INDEX CONCURRENTLY "accounts_email_key" ON "public"."accounts" USING btree ("email", "tenant_id")',
        lock: 'SHARE UPDATE EXCLUSIVE',
        table: { schema: 'public', name: 'accounts' },
        tx: 'none',
        index: {
          action: 'create',
          schema: 'public',
          name: 'accounts_email_key',
          table: 'accounts',
          unique: true,
          columns: ['email', 'tenant_id'],
          where: null,
        },
      },
    ]);
    expect([steps.dualWrite, steps.backfill, steps.verify, steps.triggers]).toEqual([[], [], [], []]);
    expect(steps.checks.map((c) => c.id)).toEqual(['0.verify.index-valid']);
    expect(steps.contract).toEqual([
      {
        id: '0.contract.add-unique',
        description: 'make index accounts_email_key the UNIQUE constraint accounts_email_key (catalog only, no scan)',
        sql: 'ALTER TABLE "public"."accounts" ADD CONSTRAINT "accounts_email_key" UNIQUE USING INDEX "accounts_email_key"',
        lock: 'ACCESS EXCLUSIVE',
        table: { schema: 'public', name: 'accounts' },
        tx: 'phase',
        skipIf:
          `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = pg_catalog.to_regclass('"public"."accounts"') ` +
          `AND conname = 'accounts_email_key' AND contype = 'u') AS done`,
      },
    ]);
    expect(steps.rollback.map((s) => [s.id, s.sql, s.lock, s.tx, s.index?.action])).toEqual([
      [
        '0.rollback.drop-index',
        'DROP INDEX CONCURRENTLY IF EXISTS "public"."accounts_email_key"',
        'SHARE UPDATE EXCLUSIVE',
        'none',
        'drop',
      ],
    ]);
  });

  test('hostile names are quoted everywhere, including the catalog check and skipIf', () => {
    const op = parsed({ schema: 'Odd Schema', table: "Order Items'", name: 'uq "q"; --', columns: ['Weird"Quote', 'select'] });
    const steps = addUniqueHandler.steps(op, { existing: 'invalid' }, names, 3);
    expect(steps.expand[0]!.sql).toBe(
      `CREATE UNIQUE INDEX CONCURRENTLY "uq ""q""; --" ON "Odd Schema"."Order Items'" USING btree ("Weird""Quote", "select")`,
    );
    expect(steps.expand[0]!.description).toContain('the INVALID index of that name');
    expect(steps.contract[0]!.sql).toBe(
      `ALTER TABLE "Odd Schema"."Order Items'" ADD CONSTRAINT "uq ""q""; --" UNIQUE USING INDEX "uq ""q""; --"`,
    );
    expect(steps.contract[0]!.skipIf).toContain(`to_regclass('"Odd Schema"."Order Items''"') AND conname = 'uq "q"; --'`);
    expect(steps.checks[0]!.sql).toContain(`WHERE n.nspname = 'Odd Schema' AND c.relname = 'uq "q"; --'`);
    expect(steps.rollback[0]!.sql).toBe(`DROP INDEX CONCURRENTLY IF EXISTS "Odd Schema"."uq ""q""; --"`);
    const plan = renderPlan([steps]);
    expect(plan.map((p) => [p.phase, p.statements.map((s) => s.transaction)])).toEqual([
      ['expand', ['none']],
      ['dual-write', []],
      ['backfill', []],
      ['verify', ['none']],
      ['contract', ['phase']],
      ['rollback', ['none']],
    ]);
  });

  test('columns() orders it with migrations on the same columns, index name and constraint name', () => {
    const op = parsed({ table: 't', name: 'u', columns: ['a'] });
    expect(addUniqueHandler.columns(op)).toEqual([
      { schema: 'public', table: 't', column: 'a' },
      { schema: 'public', table: 'u', column: '(index)' },
      { schema: 'public', table: 't', column: 'constraint u' },
    ]);
  });
});

describe('addUnique plan validation', () => {
  test('the builder gives the same plan as JSON', () => {
    const m = parseMigration(
      defineMigration({ id: '20261121_unique', operations: [addUnique({ table: 't', name: 'u', columns: ['a'] })] }),
      'ts',
    );
    expect(m.operations).toEqual([{ kind: 'addUnique', schema: 'public', table: 't', name: 'u', columns: ['a'] }]);
  });

  test('every problem at once, each with its path', () => {
    expect(problems([{ kind: 'addUnique', table: '', name: 7, columns: [], colour: 1 }])).toEqual([
      'operations[0].table: must not be empty',
      'operations[0].name: expected a string',
      'operations[0].columns: must list at least one column',
      'operations[0].colour: unknown key',
    ]);
    expect(problems([{ kind: 'addUnique', table: 't', name: 'u', columns: ['a', 'x'.repeat(64)] }])).toEqual([
      'operations[0].columns[1]: longer than 63 bytes (PostgreSQL would truncate it)',
    ]);
    expect(problems([{ kind: 'addUnique' }])).toEqual([
      'operations[0].table: required',
      'operations[0].name: required',
      'operations[0].columns: required',
    ]);
    // Its index shares the namespace of createIndex's: the second build would otherwise find the first's index and skip.
    expect(
      problems([
        { kind: 'createIndex', table: 't', name: 'u', columns: ['a'] },
        { kind: 'addUnique', table: 't', name: 'u', columns: ['a'] },
        { kind: 'addUnique', schema: 'other', table: 't', name: 'u', columns: ['a'] },
      ]),
    ).toEqual(['operations[1].name: index u is already created by operations[0] (use a second migration)']);
  });
});
