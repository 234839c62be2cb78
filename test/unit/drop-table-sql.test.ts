import { describe, expect, test } from 'vitest';
import { tableDependentsSql } from '../../src/catalog/table-dependents.js';
import { dropTableHandler, renderCheckedDrop } from '../../src/operations/drop-table.js';
import { objectNames } from '../../src/operations/blocks/names.js';
import { defineMigration, dropTable } from '../../src/plan/define.js';
import { parseMigration } from '../../src/plan/validate.js';

const names = objectNames('20261201_drop_events', 0);

describe('dropTable renders the exact SQL of each phase', () => {
  const op = { kind: 'dropTable' as const, schema: 'Odd Schema', table: 'Old "Events"' };
  const s = dropTableHandler.steps(op, {}, names, 2);
  const T = '"Odd Schema"."Old ""Events"""';

  test('nothing before contract, and nothing to roll back', () => {
    expect([s.expand, s.dualWrite, s.backfill, s.afterBackfill, s.verify, s.rollback, s.triggers]).toEqual([[], [], [], [], [], [], []]);
  });

  test('contract: lock, list dependents again under the lock, raise PGS03 naming them all, else DROP TABLE without CASCADE', () => {
    expect(s.contract.map((c) => [c.id, c.lock, c.tx, c.table])).toEqual([
      ['2.contract.drop-table', 'ACCESS EXCLUSIVE', 'phase', { schema: 'Odd Schema', name: 'Old "Events"' }],
    ]);
    const dependents = tableDependentsSql(`'"Odd Schema"."Old ""Events"""'::pg_catalog.regclass`).replaceAll('\n', '\n    ');
    expect(s.contract[0]!.sql).toBe(
      [
        'DO $pgshift$',
        'DECLARE',
        '  blockers text;',
        'BEGIN',
        `  LOCK TABLE ${T} IN ACCESS EXCLUSIVE MODE;`,
        `  blockers := (SELECT pg_catalog.string_agg(what, '; ' ORDER BY what) FROM (`,
        `    ${dependents}`,
        '  ) dependents);',
        '  IF blockers IS NOT NULL THEN',
        `    RAISE EXCEPTION USING ERRCODE = 'PGS03', MESSAGE = 'table Odd Schema.Old "Events" is not dropped: ' || blockers,`,
        `      HINT = 'drop them first (pgshift never cascades), or roll this migration back';`,
        '  END IF;',
        `  DROP TABLE ${T};`,
        'END',
        '$pgshift$',
      ].join('\n'),
    );
    expect(renderCheckedDrop(op)).toBe(s.contract[0]!.sql);
    expect(s.contract[0]!.sql).not.toMatch(/\bCASCADE\b/);
  });

  test('verification checks that the table is there and that nothing depends on it, with the same query', () => {
    const t = `'"Odd Schema"."Old ""Events"""'`;
    expect(s.checks).toEqual([
      {
        id: '2.verify.droppable',
        description: 'table Odd Schema.Old "Events" is still there and nothing depends on it',
        sql:
          `SELECT pg_catalog.to_regclass(${t}) IS NOT NULL AND d.list IS NULL AS ok, ` +
          `CASE WHEN pg_catalog.to_regclass(${t}) IS NULL THEN 'table Odd Schema.Old "Events" is missing' ` +
          `ELSE 'cannot drop table Odd Schema.Old "Events": ' || d.list END AS detail ` +
          `FROM (SELECT pg_catalog.string_agg(what, '; ' ORDER BY what) AS list FROM (${tableDependentsSql(`pg_catalog.to_regclass(${t})`)}) dependents) d`,
      },
    ]);
  });

  test('the dependents query starts from the table and follows auto and internal dependencies, as DROP does', () => {
    const sql = tableDependentsSql('$1::pg_catalog.oid');
    expect(sql).toMatch(
      /^WITH RECURSIVE goes\(classid, objid\) AS \(\n {4}SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::oid, \(\$1::pg_catalog.oid\)::oid\n/,
    );
    expect(sql).toContain(`WHERE d.deptype IN ('a', 'i')`);
    expect(sql).toContain(`WHERE d.deptype = 'n'`);
    expect(sql).toContain('pg_catalog.pg_publication_rel');
    expect(sql).toContain('pg_catalog.pg_inherits');
  });

  test('the table is what it holds for ordering with other migrations; the plan takes only schema and table', () => {
    expect(dropTableHandler.columns(op)).toEqual([{ schema: 'Odd Schema', table: 'Old "Events"', column: '(table)' }]);
    const parsed = parseMigration(defineMigration({ id: '20261201_drop_events', operations: [dropTable({ table: 'events' })] }), 'test');
    expect(parsed.operations).toEqual([{ kind: 'dropTable', schema: 'public', table: 'events' }]);
    expect(() => parseMigration({ id: 'x1', operations: [{ kind: 'dropTable', table: 'events', cascade: true }] }, 'test')).toThrow(
      /operations\[0\]\.cascade: unknown key/,
    );
  });
});
