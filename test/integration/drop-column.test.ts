import { describe, expect, test } from 'vitest';
import { cli } from '../support/cli.js';
import { snapshot } from '../support/catalog.js';
import { useDatabase } from '../support/database.js';
import { planDir } from '../support/plans.js';

const drop = (id: string, table: string, column: string, schema?: string) => ({
  [`${id}.json`]: { id, operations: [{ kind: 'dropColumn', table, column, ...(schema ? { schema } : {}) }] },
});

// The lifecycle (nothing before contract, the drop at contract under writes, rollback) is in lifecycle.test.ts.
describe('dropColumn refusals', () => {
  const db = useDatabase();

  test('refused with exit 2, nothing changed: unknown column, key column, dependent index or view', async () => {
    await db.query(`CREATE TABLE t (id int PRIMARY KEY, a text, b text, c text)`);
    await db.query(`CREATE INDEX t_b ON t (b)`);
    await db.query(`CREATE VIEW v AS SELECT c FROM t`);
    const cases: [string, string, RegExp][] = [
      ['nope', '20261121_x1', /operations\[0\]\.column: column nope does not exist in t/],
      ['id', '20261121_x2', /id is part of t's key \(t_pkey\); drop the key first/],
      ['b', '20261121_x3', /b has a dependent object: index t_b; drop it first/],
      ['c', '20261121_x4', /c has a dependent object: rule _RETURN on view v; drop it first/],
    ];
    const before = await snapshot(db, 't');
    for (const [column, id, message] of cases) {
      const r = await cli(['advance'], { url: db.url, dir: planDir(drop(id, 't', column)) });
      expect(r.code, `${column}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    expect(await snapshot(db, 't')).toEqual(before);
  });
});
