import { describe, expect, test } from 'vitest';
import { objectNames } from '../../src/operations/blocks/names.js';
import { splitColumnHandler } from '../../src/operations/split-column.js';
import type { SplitColumnFacts } from '../../src/operations/split-column.js';
import { defineMigration, splitColumn } from '../../src/plan/define.js';
import { parseMigration } from '../../src/plan/validate.js';

const key = { source: 'users_pkey', kind: 'primary key' as const, columns: [{ name: 'id', type: 'bigint' }] };
const facts: SplitColumnFacts = { key, type: 'text', collation: null };
const names = objectNames('20261201_split_full_name', 0);
const h = names.hash;
const rows = (list: { sql: string; lock: string; tx: string }[]) => list.map((s) => [s.sql, s.lock, s.tx]);

function op(fields: Record<string, unknown> = {}) {
  const migration = parseMigration(
    defineMigration({
      id: '20261201_split_full_name',
      operations: [
        splitColumn({
          table: 'users',
          column: 'full_name',
          into: [
            { name: 'first_name', type: 'text', up: "split_part(full_name, ' ', 1)" },
            { name: 'last_name', type: 'text', up: "nullif(substr(full_name, length(split_part(full_name, ' ', 1)) + 2), '')" },
          ],
          down: "concat_ws(' ', first_name, last_name)",
          ...fields,
        }),
      ],
    }),
    'test',
  );
  const parsed = migration.operations[0]!;
  if (parsed.kind !== 'splitColumn') throw new Error('not a splitColumn');
  return parsed;
}

const UP1 = "CAST((split_part(full_name, ' ', 1)) AS text)";
const UP2 = "CAST((nullif(substr(full_name, length(split_part(full_name, ' ', 1)) + 2), '')) AS text)";
const DOWN = "CAST((concat_ws(' ', first_name, last_name)) AS text)";
const OUT_OF_SYNC = `("first_name", "last_name") IS DISTINCT FROM (${UP1}, ${UP2}) AND "full_name" IS DISTINCT FROM ${DOWN}`;

describe('splitColumn renders the exact SQL of each phase', () => {
  const s = splitColumnHandler.steps(op(), facts, names, 0);

  test('expand adds the new columns in one ALTER (nullable, no default: no rewrite)', () => {
    expect(rows(s.expand)).toEqual([
      ['ALTER TABLE "public"."users" ADD COLUMN "first_name" text, ADD COLUMN "last_name" text', 'ACCESS EXCLUSIVE', 'phase'],
    ]);
  });

  test('dual-write: the trigger decides per row which side was written, and never recomputes a value from its own image', () => {
    const N = (c: string) => `NEW."${c}"`;
    const up1 = `CAST((split_part(${N('full_name')}, ' ', 1)) AS text)`;
    const up2 = `CAST((nullif(substr(${N('full_name')}, length(split_part(${N('full_name')}, ' ', 1)) + 2), '')) AS text)`;
    const down = `CAST((concat_ws(' ', ${N('first_name')}, ${N('last_name')})) AS text)`;
    const news = `(${N('first_name')}, ${N('last_name')})`;
    const assign = `${N('first_name')} := ${up1}; ${N('last_name')} := ${up2};`;
    expect(rows(s.dualWrite)).toEqual([
      [
        `CREATE OR REPLACE FUNCTION "pgshift"."sync_${h}"() RETURNS trigger LANGUAGE plpgsql AS $pgshift$\n` +
          [
            'BEGIN',
            `  IF TG_OP = 'INSERT' THEN`,
            `    IF ${N('first_name')} IS NULL AND ${N('last_name')} IS NULL THEN`,
            `      ${assign}`,
            `    ELSIF ${news} IS DISTINCT FROM (${up1}, ${up2}) THEN`,
            `      ${N('full_name')} := ${down};`,
            '    END IF;',
            `  ELSIF ${news} IS DISTINCT FROM (OLD."first_name", OLD."last_name") THEN`,
            `    IF ${news} IS DISTINCT FROM (${up1}, ${up2}) THEN`,
            `      ${N('full_name')} := ${down};`,
            '    END IF;',
            `  ELSIF ${N('full_name')} IS DISTINCT FROM OLD."full_name" OR (${news} IS DISTINCT FROM (${up1}, ${up2}) AND ${N('full_name')} IS DISTINCT FROM ${down}) THEN`,
            `    ${assign}`,
            '  END IF;',
            '  RETURN NEW;',
            'END',
          ].join('\n') +
          '\n$pgshift$',
        'none',
        'phase',
      ],
      [
        `CREATE TRIGGER "pgshift_sync_${h}" BEFORE INSERT OR UPDATE ON "public"."users" FOR EACH ROW WHEN (pg_catalog.current_setting('pgshift.backfill', true) IS DISTINCT FROM 'on') EXECUTE FUNCTION "pgshift"."sync_${h}"()`,
        'SHARE ROW EXCLUSIVE',
        'phase',
      ],
    ]);
    expect(s.triggers).toEqual([{ table: { schema: 'public', name: 'users' }, name: `pgshift_sync_${h}` }]);
  });

  test('backfill sets every new column to up(old) where neither direction holds; verification counts those rows', () => {
    expect(s.backfill).toEqual([
      {
        id: '0.backfill',
        table: { schema: 'public', name: 'users' },
        key: key.columns,
        set: [
          { column: 'first_name', expression: UP1 },
          { column: 'last_name', expression: UP2 },
        ],
        pending: OUT_OF_SYNC,
      },
    ]);
    expect(s.verify).toEqual([
      {
        id: '0.verify',
        table: { schema: 'public', name: 'users' },
        key: key.columns,
        mismatch: OUT_OF_SYNC,
        description: 'first_name, last_name are up(full_name), or full_name is down(first_name, last_name)',
      },
    ]);
    expect(s.afterBackfill).toEqual([]);
  });

  test('contract drops the trigger, then the old column; rollback drops what expand and dual-write added', () => {
    expect(rows(s.contract)).toEqual([
      [`DROP TRIGGER "pgshift_sync_${h}" ON "public"."users"`, 'ACCESS EXCLUSIVE', 'phase'],
      [`DROP FUNCTION "pgshift"."sync_${h}"()`, 'none', 'phase'],
      ['ALTER TABLE "public"."users" DROP COLUMN "full_name"', 'ACCESS EXCLUSIVE', 'phase'],
    ]);
    expect(rows(s.rollback)).toEqual([
      [`DROP TRIGGER IF EXISTS "pgshift_sync_${h}" ON "public"."users"`, 'ACCESS EXCLUSIVE', 'phase'],
      [`DROP FUNCTION IF EXISTS "pgshift"."sync_${h}"()`, 'none', 'phase'],
      ['ALTER TABLE "public"."users" DROP COLUMN IF EXISTS "first_name", DROP COLUMN IF EXISTS "last_name"', 'ACCESS EXCLUSIVE', 'phase'],
    ]);
  });

  test('dropOld: false keeps the old column at contract', () => {
    const kept = splitColumnHandler.steps(op({ dropOld: false }), facts, names, 0);
    expect(kept.contract.map((c) => c.id)).toEqual(['0.contract.drop-trigger', '0.contract.drop-function']);
  });

  test("hostile names: every column reference is quoted in the trigger, user text is kept as written; down takes the old column's collation", () => {
    const hostile = op({
      schema: 'Odd Schema',
      table: 'user',
      column: 'Full "Name"',
      into: [
        { name: 'select', type: 'text', up: `split_part("Full ""Name""", ' ', 1) || 'NEW.x'` },
        { name: 'Last Name', type: 'varchar(80)', up: `"Full ""Name"""` },
      ],
      down: `"select" || ' ' || "Last Name"`,
    });
    const r = splitColumnHandler.steps(hostile, { key, type: 'text', collation: { schema: 'pg_catalog', name: 'C' } }, names, 3);
    expect(r.expand[0]!.sql).toBe('ALTER TABLE "Odd Schema"."user" ADD COLUMN "select" text, ADD COLUMN "Last Name" varchar(80)');
    const body = r.dualWrite[0]!.sql;
    expect(body).toContain(
      `NEW."select" := CAST((split_part(NEW."Full ""Name""", ' ', 1) || 'NEW.x') AS text); NEW."Last Name" := CAST((NEW."Full ""Name""") AS varchar(80));`,
    );
    expect(body).toContain(`NEW."Full ""Name""" := CAST((NEW."select" || ' ' || NEW."Last Name") AS text) COLLATE "pg_catalog"."C";`);
    expect(r.backfill[0]!.set).toEqual([
      { column: 'select', expression: `CAST((split_part("Full ""Name""", ' ', 1) || 'NEW.x') AS text)` },
      { column: 'Last Name', expression: `CAST(("Full ""Name""") AS varchar(80))` },
    ]);
    expect(r.contract.at(-1)!.sql).toBe('ALTER TABLE "Odd Schema"."user" DROP COLUMN "Full ""Name"""');
    expect(splitColumnHandler.columns(hostile).map((c) => c.column)).toEqual(['Full "Name"', 'select', 'Last Name']);
  });
});

describe('splitColumn plan validation (before any database)', () => {
  const problems = (fields: Record<string, unknown>) => {
    try {
      op(fields);
      return [];
    } catch (error) {
      return (error as { problems: { path: string; message: string }[] }).problems;
    }
  };

  test("expressions are read by PostgreSQL's parser: up may not use the new columns, down not the old one", () => {
    expect(
      problems({
        into: [
          { name: 'first_name', type: 'text', up: 'last_name' },
          { name: 'last_name', type: 'text', up: '(SELECT 1)' },
        ],
        down: 'full_name || users.x',
      }),
    ).toEqual([
      { path: 'operations[0].into[0].up', message: 'uses last_name, a new column; "up" computes the new columns from the existing ones' },
      { path: 'operations[0].into[1].up', message: 'subqueries are not supported here; use a function if the value needs another table' },
      { path: 'operations[0].down', message: 'refer to columns unqualified (found users.x)' },
    ]);
    expect(problems({ down: "full_name || 'x'" })).toEqual([
      {
        path: 'operations[0].down',
        message: 'uses full_name, the column it computes; "down" reads the new columns (and other existing ones)',
      },
    ]);
    expect(problems({ down: '1; DROP TABLE users' })).toEqual([{ path: 'operations[0].down', message: 'must be a single SQL expression' }]);
  });

  test('at least two new columns, each named once, none the old column', () => {
    expect(problems({ into: [{ name: 'a', type: 'text', up: 'full_name' }] })).toEqual([
      { path: 'operations[0].into', message: 'must list at least two columns' },
    ]);
    expect(
      problems({
        into: [
          { name: 'a', type: 'text', up: 'full_name' },
          { name: 'a', type: 'text', up: 'full_name' },
          { name: 'full_name', type: 'text', up: 'full_name' },
        ],
        down: 'a',
      }),
    ).toEqual([
      { path: 'operations[0].into[1].name', message: 'column a is already listed' },
      { path: 'operations[0].into[2].name', message: 'is the column being split' },
    ]);
  });
});
