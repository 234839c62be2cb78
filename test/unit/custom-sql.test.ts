import { describe, expect, test } from 'vitest';
import { customHandler, customSyncBody } from '../../src/operations/custom.js';
import { objectNames } from '../../src/operations/blocks/names.js';
import { parseMigration } from '../../src/plan/validate.js';
import type { Custom } from '../../src/operations/custom.js';

const facts = {
  key: { source: 'items_pkey', kind: 'primary key' as const, columns: [{ name: 'id', type: 'bigint' }] },
  indexes: { 'backfill.after #1': { schema: 'public', table: 'Weird"Items' }, 'rollback #1': { schema: 'public', table: 'Weird"Items' } },
};

function op(extra: Record<string, unknown> = {}): Custom {
  const m = parseMigration(
    {
      id: 'm',
      operations: [
        {
          kind: 'custom',
          table: 'Weird"Items',
          expand: 'ALTER TABLE "Weird""Items" ADD COLUMN price numeric(12,2); COMMENT ON COLUMN "Weird""Items".price IS \'x\'',
          dualWrite: { trigger: { up: { price: 'cents / 100.0' }, down: { cents: '(price * 100)::int' } } },
          backfill: { set: { price: 'cents / 100.0' }, after: 'CREATE UNIQUE INDEX CONCURRENTLY "p i" ON "Weird""Items" (price)' },
          contract: 'ALTER TABLE "Weird""Items" DROP COLUMN cents',
          rollback: ['DROP INDEX CONCURRENTLY IF EXISTS "p i"', 'ALTER TABLE "Weird""Items" DROP COLUMN IF EXISTS price'],
          ...extra,
        },
      ],
    },
    'test',
  );
  return m.operations[0] as Custom;
}

describe('custom: the steps of every phase', () => {
  const steps = customHandler.steps(op(), facts, objectNames('m', 0), 0);

  test('each statement is a step with its lock level and transaction', () => {
    expect(steps.expand.map((s) => [s.id, s.sql, s.lock, s.tx, s.table])).toEqual([
      [
        '0.expand.expand-1',
        'ALTER TABLE "Weird""Items" ADD COLUMN price numeric(12,2)',
        'ACCESS EXCLUSIVE',
        'phase',
        { schema: 'public', name: 'Weird"Items' },
      ],
      [
        '0.expand.expand-2',
        `COMMENT ON COLUMN "Weird""Items".price IS 'x'`,
        'SHARE UPDATE EXCLUSIVE',
        'phase',
        { schema: 'public', name: 'Weird"Items' },
      ],
    ]);
    expect(steps.afterBackfill).toEqual([
      expect.objectContaining({
        sql: 'CREATE UNIQUE INDEX CONCURRENTLY "p i" ON "Weird""Items" (price)',
        lock: 'SHARE UPDATE EXCLUSIVE',
        tx: 'none',
        index: { action: 'create', schema: 'public', name: 'p i', table: 'Weird"Items', unique: true, columns: ['price'], where: null },
      }),
    ]);
  });

  test('the trigger is tried first; the rollback drops it before your SQL, which a CONCURRENTLY statement moves out of the phase transaction', () => {
    expect(steps.dualWrite.map((s) => s.id)).toEqual(['0.dual-write.check-expressions', '0.dual-write.function', '0.dual-write.trigger']);
    expect(steps.dualWrite[0]!.sql).toBe(
      'EXPLAIN UPDATE "public"."Weird""Items" SET "price" = (cents / 100.0), "cents" = ((price * 100)::int)',
    );
    expect(steps.rollback.map((s) => [s.id, s.tx])).toEqual([
      ['0.rollback.drop-trigger', 'own'],
      ['0.rollback.drop-function', 'own'],
      ['0.rollback.rollback-1', 'none'],
      ['0.rollback.rollback-2', 'phase'],
    ]);
    expect(steps.contract.map((s) => s.id)).toEqual(['0.contract.drop-trigger', '0.contract.drop-function', '0.contract.contract-1']);
    expect(steps.contract[0]!.skipIf).toContain(`tgname = 'pgshift_sync_`);
  });

  test('backfill and verification default to "a set column differs from its expression"', () => {
    expect(steps.backfill).toEqual([
      {
        id: '0.backfill',
        table: { schema: 'public', name: 'Weird"Items' },
        key: [{ name: 'id', type: 'bigint' }],
        set: [{ column: 'price', expression: '(cents / 100.0)' }],
        pending: '"price" IS DISTINCT FROM (cents / 100.0)',
      },
    ]);
    expect(steps.verify[0]!.mismatch).toBe('"price" IS DISTINCT FROM (cents / 100.0)');
    expect(customHandler.steps(op({ verify: 'price * 100 <> cents' }), facts, objectNames('m', 0), 0).verify[0]!.mismatch).toBe(
      'price * 100 <> cents',
    );
  });

  test('the trigger body: old app computes new columns, new app old ones, an update that already agrees is left alone', () => {
    expect(
      customSyncBody({ schema: 'public', name: 'Weird"Items' }, { 'new "p"': 'cents / 100.0' }, { cents: '("new ""p""" * 100)::int' }),
    ).toBe(
      [
        'DECLARE',
        '  computed "public"."Weird""Items"%ROWTYPE;',
        'BEGIN',
        "  IF TG_OP = 'INSERT' THEN",
        '    IF NEW."new ""p""" IS NULL THEN',
        '      SELECT (NEW."cents" / 100.0) INTO NEW."new ""p""";',
        '    ELSE',
        '      SELECT ((NEW."new ""p""" * 100)::int) INTO NEW."cents";',
        '    END IF;',
        '    RETURN NEW;',
        '  END IF;',
        '  computed := NEW;',
        '  SELECT (NEW."cents" / 100.0) INTO computed."new ""p""";',
        '  IF NEW."new ""p""" IS DISTINCT FROM OLD."new ""p""" THEN',
        '    IF NEW."new ""p""" IS DISTINCT FROM computed."new ""p""" THEN',
        '      SELECT ((NEW."new ""p""" * 100)::int) INTO NEW."cents";',
        '    END IF;',
        '  ELSE',
        '    NEW."new ""p""" := computed."new ""p""";',
        '  END IF;',
        '  RETURN NEW;',
        'END',
      ].join('\n'),
    );
  });

  test('plan validation: table required with a trigger, rollback required with expand, at least one phase', () => {
    expect(() => parseMigration({ id: 'm', operations: [{ kind: 'custom', dualWrite: { trigger: { up: { a: 'b' } } } }] }, 't')).toThrow(
      'operations[0].table: required with dualWrite.trigger',
    );
    expect(() => parseMigration({ id: 'm', operations: [{ kind: 'custom', expand: 'SELECT 1' }] }, 't')).toThrow(
      'operations[0].rollback: required because expand change the database',
    );
    expect(() => parseMigration({ id: 'm', operations: [{ kind: 'custom' }] }, 't')).toThrow('does nothing');
    expect(() =>
      parseMigration(
        { id: 'm', operations: [{ kind: 'custom', contract: 'SELECT 1', allow: [{ statement: 'x', rule: 'truncate', reason: '' }] }] },
        't',
      ),
    ).toThrow('must say why');
  });
});
