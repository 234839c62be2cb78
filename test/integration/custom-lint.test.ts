import { beforeAll, describe, expect, test } from 'vitest';
import { cli } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { planDir } from '../support/plans.js';

const T = '"Weird""Items"';

/** One custom operation as a migration; `plan` inspects it against the catalog and changes nothing. */
function dirFor(id: string, op: Record<string, unknown>) {
  return planDir({ [`${id}.json`]: { id, operations: [{ kind: 'custom', rollback: [], ...op }] } });
}

describe('custom: catalog-dependent lint rules, decided on the live database at inspect', () => {
  const db = useDatabase();
  const plan = async (op: Record<string, unknown>) => {
    const r = await cli(['plan', 'm1', '--json'], { url: db.url, dir: dirFor('m1', op) });
    return { code: r.code, text: r.stdout + r.stderr };
  };

  beforeAll(async () => {
    await db.query(
      `CREATE TABLE ${T} (id int PRIMARY KEY, a int, code varchar(10), note text, CONSTRAINT note_nn CHECK (note IS NOT NULL))`,
    );
    await db.query(`INSERT INTO ${T} SELECT g, g, 'c' || g, 'n' FROM generate_series(1, 100) g`);
    await db.query(`CREATE INDEX "items a" ON ${T} (a)`);
  });

  test.each([
    [
      'create-index',
      `CREATE INDEX i2 ON ${T} (a)`,
      `CREATE TABLE "new ""t""" (a int); CREATE INDEX i2 ON "new ""t""" (a)`,
      'use CREATE INDEX CONCURRENTLY (pgshift runs it outside a transaction), or the createIndex operation',
    ],
    [
      'drop-index',
      'DROP INDEX "items a"',
      `CREATE TABLE "new ""t""" (a int); CREATE INDEX i3 ON "new ""t""" (a); DROP INDEX i3`,
      'DROP INDEX CONCURRENTLY',
    ],
    [
      'add-column-rewrite',
      `ALTER TABLE ${T} ADD COLUMN at timestamptz DEFAULT clock_timestamp()`,
      `ALTER TABLE ${T} ADD COLUMN at timestamptz DEFAULT now()`,
      'PostgreSQL rewrote an empty copy of the table',
    ],
    [
      'alter-type-rewrite',
      `ALTER TABLE ${T} ALTER COLUMN a TYPE bigint`,
      `ALTER TABLE ${T} ALTER COLUMN code TYPE varchar(20)`,
      'changeColumnType',
    ],
    [
      'alter-type-rewrite',
      `ALTER TABLE ${T} ALTER COLUMN code TYPE varchar(5)`,
      `ALTER TABLE ${T} ALTER COLUMN code TYPE text`,
      'rewrites every row',
    ],
    [
      'set-not-null',
      `ALTER TABLE ${T} ALTER COLUMN a SET NOT NULL`,
      `ALTER TABLE ${T} ALTER COLUMN note SET NOT NULL`,
      'VALIDATE CONSTRAINT',
    ],
    ['truncate', `TRUNCATE ${T}`, 'TRUNCATE "not there"', 'not MVCC-safe'],
  ])('%s: refused on the live table (exit 2, nothing changed), allowed when safe', async (rule, refused, safe, hint) => {
    const bad = await plan({ expand: refused });
    expect(bad.code, bad.text).toBe(2);
    expect(bad.text).toContain(`expand #1 (character 1) is refused by rule ${rule}`);
    expect(bad.text).toContain(hint);
    const ok = await plan({ expand: safe });
    expect(ok.code, ok.text).toBe(0);
    expect(await db.query(`SELECT count(*)::int AS n FROM ${T}`)).toEqual([{ n: 100 }]);
    expect(await db.query(`SELECT to_regclass('pgshift.migrations') AS ledger`)).toEqual([{ ledger: null }]);
  });

  test('the rewrite probe runs the earlier statements too: a type change of a column added just before is decided on it', async () => {
    expect(
      (await plan({ expand: `ALTER TABLE ${T} ADD COLUMN b varchar(5); ALTER TABLE ${T} ALTER COLUMN b TYPE varchar(50)` })).code,
    ).toBe(0);
    const r = await plan({ expand: `ALTER TABLE ${T} ADD COLUMN b int; ALTER TABLE ${T} ALTER COLUMN b TYPE bigint` });
    expect(r.text).toContain('expand #2 (character 46) is refused by rule alter-type-rewrite');
  });

  test('an override with a reason lets the statement run; its reason goes to the ledger with the phase', async () => {
    const dir = dirFor('m2', {
      expand: [`CREATE INDEX "items note" ON ${T} (note)`, `ALTER TABLE ${T} ADD COLUMN flag boolean DEFAULT (random() > 2)`],
      rollback: [`DROP INDEX IF EXISTS "items note"`, `ALTER TABLE ${T} DROP COLUMN IF EXISTS flag`],
      allow: [
        { statement: 'expand #1', rule: 'create-index', reason: '100 rows: the SHARE lock lasts milliseconds' },
        { statement: 'random() > 2', rule: 'add-column-rewrite', reason: 'small table' },
      ],
    });
    const r = await cli(['advance', '--to', 'expand', '--json'], { url: db.url, dir });
    expect(r.code, r.stderr).toBe(0);
    const [run] = await db.query<{ details: { overrides: unknown[] } }>(
      `SELECT details FROM pgshift.phase_runs WHERE migration_id = 'm2' AND phase = 'expand'`,
    );
    expect(run!.details.overrides).toEqual([
      {
        statement: 'expand #1',
        sql: `CREATE INDEX "items note" ON ${T} (note)`,
        rule: 'create-index',
        reason: '100 rows: the SHARE lock lasts milliseconds',
      },
      {
        statement: 'expand #2',
        sql: `ALTER TABLE ${T} ADD COLUMN flag boolean DEFAULT (random() > 2)`,
        rule: 'add-column-rewrite',
        reason: 'small table',
      },
    ]);
    expect((await cli(['rollback', 'm2'], { url: db.url, dir })).code).toBe(0);
    expect(await db.query(`SELECT to_regclass('"items note"') AS i`)).toEqual([{ i: null }]);
  });

  test('a stale override, an unknown rule, an empty reason and an ambiguous statement are errors (exit 2)', async () => {
    const stale = await plan({
      expand: `CREATE INDEX CONCURRENTLY i4 ON ${T} (a)`,
      allow: [{ statement: 'expand #1', rule: 'create-index', reason: 'x' }],
    });
    expect(stale.code).toBe(2);
    expect(stale.text).toContain('expand #1 is not refused by rule create-index (nothing refuses it); remove the stale override');
    const unknown = await plan({ expand: 'SELECT 1', allow: [{ statement: 'expand #1', rule: 'no-such-rule', reason: 'x' }] });
    expect(unknown.code).toBe(2);
    expect(unknown.text).toContain('unknown rule (known: create-index,');
    const empty = await plan({ expand: `TRUNCATE ${T}`, allow: [{ statement: 'expand #1', rule: 'truncate', reason: '  ' }] });
    expect(empty.text).toContain('must say why the statement is safe here');
    const ambiguous = await plan({
      expand: [`TRUNCATE ${T}`, `LOCK TABLE ${T}`],
      allow: [{ statement: T, rule: 'truncate', reason: 'x' }],
    });
    expect(ambiguous.text).toContain('matches 2 statements (expand #1, expand #2)');
  });

  test('rollback SQL is required when a phase before contract changes something; contract and rollback SQL are linted too', async () => {
    const r = await cli(['plan', 'm3'], {
      url: db.url,
      dir: planDir({ 'm3.json': { id: 'm3', operations: [{ kind: 'custom', expand: 'SELECT 1' }] } }),
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('operations[0].rollback: required because expand change the database');
    const c = await plan({ contract: `VACUUM FULL ${T}`, rollback: `CLUSTER ${T}` });
    expect(c.text).toContain('operations[0].contract: contract #1 (character 1) is refused by rule vacuum-full');
    expect(c.text).toContain('operations[0].rollback: rollback #1 (character 1) is refused by rule cluster');
  });
  test('regression (issue 8): ADD COLUMN … NOT NULL without a default is refused by --dry-run, not failed at expand with 23502', async () => {
    const dir = dirFor('m4', {
      expand: `ALTER TABLE ${T} ADD COLUMN required_flag boolean NOT NULL`,
      rollback: `ALTER TABLE ${T} DROP COLUMN IF EXISTS required_flag`,
    });
    const r = await cli(['advance', 'm4', '--to', 'expand', '--dry-run', '--json'], { url: db.url, dir });
    expect(r.code, r.stdout).toBe(2);
    expect(r.stdout).toContain('is refused by rule add-required-column');
    expect(r.stdout).toContain('addColumn operation');
    expect(
      await db.query(`SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'required_flag'`, [T]),
    ).toEqual([{ n: 0 }]);
  });

  test('regression (issue 8): DROP DATABASE is refused at validation and never reaches the server', async () => {
    await db.query('CREATE DATABASE pgshift_lint_victim');
    try {
      const r = await plan({ expand: 'DROP DATABASE pgshift_lint_victim', rollback: [] });
      expect(r.code, r.text).toBe(2);
      expect(r.text).toContain('is refused by rule drop-database');
      const r2 = await cli(['advance', 'm5', '--to', 'expand', '--json'], {
        url: db.url,
        dir: dirFor('m5', { expand: 'DROP DATABASE pgshift_lint_victim' }),
      });
      expect(r2.code).toBe(2);
      expect(await db.query(`SELECT count(*)::int AS n FROM pg_database WHERE datname = 'pgshift_lint_victim'`)).toEqual([{ n: 1 }]);
    } finally {
      await db.query('DROP DATABASE IF EXISTS pgshift_lint_victim');
    }
  });
});
