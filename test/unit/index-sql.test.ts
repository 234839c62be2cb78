import { describe, expect, test } from 'vitest';
import { nonTransactionalFirst } from '../../src/db/run-steps.js';
import { PlanInvalidError } from '../../src/errors.js';
import { createIndexHandler } from '../../src/operations/create-index.js';
import type { CreateIndex } from '../../src/operations/create-index.js';
import { dropIndexHandler } from '../../src/operations/drop-index.js';
import type { DropIndex } from '../../src/operations/drop-index.js';
import { objectNames } from '../../src/operations/blocks/names.js';
import type { DdlStep } from '../../src/plan/steps.js';
import type { DropIndexFacts } from '../../src/operations/drop-index.js';
import { createIndex, defineMigration, dropIndex } from '../../src/plan/define.js';
import { parseMigration } from '../../src/plan/validate.js';
import { renderPlan } from '../../src/render-plan.js';

const names = objectNames('20261121_index', 0);
const parse = (operations: unknown[]) => parseMigration({ id: '20261121_index', operations }, 'test');
const created = (op: Omit<CreateIndex, 'kind' | 'schema' | 'unique' | 'using'> & Partial<CreateIndex>) =>
  parse([{ kind: 'createIndex', ...op }]).operations[0] as CreateIndex;

function problems(operations: unknown[]): string[] {
  try {
    parse(operations);
    return [];
  } catch (error) {
    if (!(error instanceof PlanInvalidError)) throw error;
    return error.problems.map((p) => `${p.path}: ${p.message}`);
  }
}

describe('createIndex renders the exact SQL of each phase', () => {
  test('expand: CREATE INDEX CONCURRENTLY outside any transaction, run by the concurrent index runner', () => {
    const op = created({ table: 'orders', name: 'orders_customer', columns: ['customer_id', 'id'] });
    const steps = createIndexHandler.steps(op, { existing: 'none' }, names, 0);
    expect(steps.expand).toEqual([
      {
        id: '0.expand.create-index',
        description: 'build index orders_customer on orders while reads and writes go on',
        sql: 'CREATE INDEX CONCURRENTLY "orders_customer" ON "public"."orders" USING btree ("customer_id", "id")',
        lock: 'SHARE UPDATE EXCLUSIVE',
        table: { schema: 'public', name: 'orders' },
        tx: 'none',
        index: {
          action: 'create',
          schema: 'public',
          name: 'orders_customer',
          table: 'orders',
          unique: false,
          columns: ['customer_id', 'id'],
          where: null,
        },
      },
    ]);
    expect([steps.dualWrite, steps.backfill, steps.verify, steps.contract, steps.triggers]).toEqual([[], [], [], [], []]);
    expect(steps.rollback.map((s) => [s.id, s.sql, s.lock, s.tx, s.index?.action])).toEqual([
      ['0.rollback.drop-index', 'DROP INDEX CONCURRENTLY IF EXISTS "public"."orders_customer"', 'SHARE UPDATE EXCLUSIVE', 'none', 'drop'],
    ]);
  });

  test('unique, partial, another method; the predicate is kept as written, in parentheses', () => {
    const op = created({ table: 'orders', name: 'open_email', columns: ['email'], unique: true, where: "status = 'open'", using: 'hash' });
    expect(createIndexHandler.steps(op, { existing: 'none' }, names, 2).expand[0]).toMatchObject({
      id: '2.expand.create-index',
      sql: `CREATE UNIQUE INDEX CONCURRENTLY "open_email" ON "public"."orders" USING hash ("email") WHERE (status = 'open')`,
      index: { unique: true, where: "status = 'open'" },
    });
  });

  test('hostile names are quoted everywhere, including the catalog check', () => {
    const op = created({ schema: 'Odd Schema', table: 'Order Items', name: 'idx "q" x', columns: ['Weird"Quote', 'select'] });
    const steps = createIndexHandler.steps(op, { existing: 'none' }, names, 0);
    expect(steps.expand[0]!.sql).toBe(
      'CREATE INDEX CONCURRENTLY "idx ""q"" x" ON "Odd Schema"."Order Items" USING btree ("Weird""Quote", "select")',
    );
    expect(steps.rollback[0]!.sql).toBe('DROP INDEX CONCURRENTLY IF EXISTS "Odd Schema"."idx ""q"" x"');
    expect(steps.checks).toHaveLength(1);
    expect(steps.checks[0]!.sql).toContain(`to_regclass('"Odd Schema"."Order Items"')`);
    expect(steps.checks[0]!.sql).toContain(`n.nspname = 'Odd Schema' AND c.relname = 'idx "q" x'`);
  });

  test('an INVALID or already built index of that name is said in the step description', () => {
    const op = created({ table: 't', name: 'i', columns: ['a'] });
    expect(createIndexHandler.steps(op, { existing: 'invalid' }, names, 0).expand[0]!.description).toMatch(
      /INVALID index of that name .* is dropped first/,
    );
    expect(createIndexHandler.steps(op, { existing: 'valid' }, names, 0).expand[0]!.description).toMatch(
      /already exists with this definition/,
    );
  });

  test('plan --sql shows the verification check; rollback runs outside the transaction', () => {
    const op = created({ table: 't', name: 'i', columns: ['a'], unique: true });
    const plan = renderPlan([createIndexHandler.steps(op, { existing: 'none' }, names, 0)]);
    expect(plan.find((p) => p.phase === 'rollback')!.statements.map((s) => s.transaction)).toEqual(['none']);
    expect(plan.find((p) => p.phase === 'verify')!.statements.map((s) => s.id)).toEqual(['0.verify.index-valid']);
  });

  test('columns() lists the table columns and claims the index name', () => {
    const op = created({ table: 't', name: 'i', columns: ['a', 'b'] });
    expect(createIndexHandler.columns(op)).toEqual([
      { schema: 'public', table: 't', column: 'a' },
      { schema: 'public', table: 't', column: 'b' },
      { schema: 'public', table: 'i', column: '(index)' },
    ]);
    expect(dropIndexHandler.columns({ kind: 'dropIndex', schema: 'public', name: 'i' })).toEqual([
      { schema: 'public', table: 'i', column: '(index)' },
    ]);
  });
});

describe('dropIndex renders the exact SQL of each phase', () => {
  const op: DropIndex = { kind: 'dropIndex', schema: 'Odd Schema', name: 'Old "Idx"' };
  const facts: DropIndexFacts = {
    table: 'Order Items',
    unique: true,
    columns: ['email'],
    definition: 'CREATE UNIQUE INDEX "Old ""Idx""" ON "Odd Schema"."Order Items" USING btree (email) WHERE (email IS NOT NULL)',
    shape: 'USING btree (email) WHERE (email IS NOT NULL)',
    predicate: '(email IS NOT NULL)',
  };
  const steps = dropIndexHandler.steps(op, facts, names, 1);

  test('only contract acts: DROP INDEX CONCURRENTLY outside any transaction', () => {
    expect([steps.expand, steps.dualWrite, steps.backfill, steps.verify, steps.checks]).toEqual([[], [], [], [], []]);
    expect(steps.contract.map((s) => [s.id, s.sql, s.lock, s.tx, s.index])).toEqual([
      [
        '1.contract.drop-index',
        'DROP INDEX CONCURRENTLY IF EXISTS "Odd Schema"."Old ""Idx"""',
        'SHARE UPDATE EXCLUSIVE',
        'none',
        {
          action: 'drop',
          schema: 'Odd Schema',
          name: 'Old "Idx"',
          table: 'Order Items',
          unique: true,
          columns: ['email'],
          where: '(email IS NOT NULL)',
        },
      ],
    ]);
  });

  test('rollback rebuilds the index as it was, only if a half-done contract left it invalid or gone', () => {
    expect(steps.rollback.map((s) => [s.id, s.sql, s.tx, s.index?.action])).toEqual([
      [
        '1.rollback.restore-index',
        'CREATE UNIQUE INDEX CONCURRENTLY "Old ""Idx""" ON "Odd Schema"."Order Items" USING btree (email) WHERE (email IS NOT NULL)',
        'none',
        'create',
      ],
    ]);
    expect(steps.rollback[0]!.description).toMatch(/^nothing to undo while index Old "Idx" is valid \(skipped\)/);
  });

  test('an expression index is rebuilt without sampling duplicate keys', () => {
    const expr = dropIndexHandler.steps(op, { ...facts, columns: ['(expression)'] }, names, 0);
    expect(expr.rollback[0]!.index!.columns).toEqual([]);
  });
});

describe('index plans are validated', () => {
  test('defaults: public schema, not unique, btree; typed helpers give the same plan', () => {
    const parsed = parse([createIndex({ table: 't', name: 'i', columns: ['a'] }), dropIndex({ name: 'j' })]);
    expect(parsed.operations).toEqual([
      { kind: 'createIndex', schema: 'public', table: 't', name: 'i', columns: ['a'], unique: false, using: 'btree' },
      { kind: 'dropIndex', schema: 'public', name: 'j' },
    ]);
    expect(defineMigration({ id: 'x', operations: [dropIndex({ name: 'j' })] }).operations).toHaveLength(1);
  });

  test('every problem with its path', () => {
    expect(
      problems([{ kind: 'createIndex', table: 't', name: '', columns: [], unique: 'yes', using: 'bitmap', where: '', colour: 1 }]),
    ).toEqual([
      'operations[0].name: must not be empty',
      'operations[0].columns: must list at least one column',
      'operations[0].unique: expected true or false',
      'operations[0].where: must not be empty',
      'operations[0].using: expected one of btree, hash, gin, gist, brin',
      'operations[0].colour: unknown key',
    ]);
    expect(problems([{ kind: 'createIndex', table: 't', name: 'i', columns: ['a', 7] }])).toEqual([
      'operations[0].columns[1]: expected a string',
    ]);
    expect(problems([{ kind: 'dropIndex' }])).toEqual(['operations[0].name: required']);
  });

  test('one migration creates or drops an index name once', () => {
    expect(
      problems([
        { kind: 'createIndex', table: 't', name: 'i', columns: ['a'] },
        { kind: 'dropIndex', name: 'i' },
        { kind: 'createIndex', schema: 'other', table: 't', name: 'i', columns: ['a'] },
        { kind: 'createIndex', table: 'u', name: 'i', columns: ['b'] },
      ]),
    ).toEqual([
      'operations[1].name: index i is already created by operations[0] (use a second migration)',
      'operations[3].name: index i is already created by operations[0] (use a second migration)',
    ]);
  });
});

describe('steps of several operations run non-transactional first', () => {
  const step = (id: string, tx: DdlStep['tx']): DdlStep => ({ id, description: id, sql: id, lock: 'none', table: null, tx });

  test("another operation's CONCURRENTLY step moves before the phase transaction; each operation keeps its order", () => {
    const order = nonTransactionalFirst([
      step('0.expand.a', 'phase'),
      step('0.expand.b', 'phase'),
      step('1.expand.c', 'none'),
      step('2.expand.d', 'own'),
      step('2.expand.e', 'phase'),
    ]);
    expect(order.map((s) => s.id)).toEqual(['1.expand.c', '2.expand.d', '0.expand.a', '0.expand.b', '2.expand.e']);
  });

  test('within one operation, a transactional step before a non-transactional one is a bug', () => {
    expect(() => nonTransactionalFirst([step('0.contract.a', 'phase'), step('0.contract.b', 'own')])).toThrow(
      /bug: transactional steps must come last/,
    );
  });
});
