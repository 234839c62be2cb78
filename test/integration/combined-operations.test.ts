import { beforeEach, describe, expect, test } from 'vitest';
import { cli } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { planDir } from '../support/plans.js';
import {
  ACCOUNTS,
  ADD_COLUMN_THEN_CHECK,
  CREATE_THEN_CREATE_INDEX,
  CREATE_WITH_OTHER_TABLE_INDEX,
  CREATE_WITH_OTHER_TABLE_RENAME,
  CREATE_THEN_CONSTRAIN,
  CREATE_THEN_CUSTOM_INDEX,
  STACKED_ON_ONE_COLUMN,
} from '../support/combined-plans.js';

// Issue 8 part 3: plans combining operations passed validation, then failed at contract or expand.
describe('operations combined in one plan', () => {
  const db = useDatabase();

  beforeEach(async () => {
    await db.query(`DROP TABLE IF EXISTS customers, tasks, orders, accounts CASCADE; DROP SCHEMA IF EXISTS pgshift CASCADE`);
    await db.query(ACCOUNTS);
  });

  async function shape() {
    return db.query(
      `SELECT (SELECT json_agg(column_name || ' ' || data_type || ' ' || is_nullable ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = 'public') AS columns,
              (SELECT json_agg(conname ORDER BY conname) FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND contype <> 'n') AS constraints,
              (SELECT json_agg(indexname ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public') AS indexes,
              to_regnamespace('pgshift') IS NOT NULL AS ledger`,
    );
  }

  test('changeColumnType + setNotNull + addUnique + addCheck on one column: refused at validation with the order that works, nothing changed', async () => {
    const before = await shape();
    const dir = planDir({ [`${STACKED_ON_ONE_COLUMN.id}.json`]: STACKED_ON_ONE_COLUMN });
    for (const args of [
      ['advance', '--to', 'contract', '--dry-run'],
      ['advance', '--to', 'contract'],
    ]) {
      const r = await cli(args, { url: db.url, dir });
      expect(r.code, r.stderr).toBe(2);
      for (const [i, kind] of [
        [1, 'setNotNull'],
        [2, 'addUnique'],
        [3, 'addCheck'],
      ] as const)
        expect(r.stderr).toContain(
          `operations[${i}] (${kind}) acts on column accounts.code, which operations[0] (changeColumnType) replaces or drops at contract; put operations[${i}] (${kind}) in a later migration`,
        );
    }
    expect(await shape()).toEqual(before);
  });

  test('the same four as two migrations (type first, then the rules) reach contract', async () => {
    const [change, ...rules] = STACKED_ON_ONE_COLUMN.operations;
    const dir = planDir({
      '20261204_a.json': { id: '20261204_a', operations: [change] },
      '20261204_b.json': { id: '20261204_b', operations: rules },
    });
    const r = await cli(['advance', '--to', 'contract'], { url: db.url, dir });
    expect(r.code, r.stderr).toBe(0);
    const again = await cli(['advance', '--to', 'contract'], { url: db.url, dir });
    expect(again.code, again.stderr).toBe(0);
    const [col] = await db.query<{ data_type: string; is_nullable: string }>(
      `SELECT data_type, is_nullable FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'code'`,
    );
    expect(col).toEqual({ data_type: 'character varying', is_nullable: 'NO' });
    const constraints = await db.query<{ conname: string; convalidated: boolean }>(
      `SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'accounts'::regclass AND contype IN ('u', 'c') ORDER BY 1`,
    );
    expect(constraints).toEqual([
      { conname: 'accounts_code_key', convalidated: true },
      { conname: 'accounts_code_length', convalidated: true },
    ]);
  });

  test('createTable then addUnique, addCheck, addForeignKey on it: reach contract with the constraints validated', async () => {
    const dir = planDir({ [`${CREATE_THEN_CONSTRAIN.id}.json`]: CREATE_THEN_CONSTRAIN });
    const dry = await cli(['advance', '--to', 'contract', '--dry-run'], { url: db.url, dir });
    expect(dry.code, dry.stderr).toBe(0);
    expect(await db.query(`SELECT to_regclass('customers') AS t`)).toEqual([{ t: null }]);
    const r = await cli(['advance', '--to', 'contract'], { url: db.url, dir });
    expect(r.code, r.stderr).toBe(0);
    const constraints = await db.query(
      `SELECT conname, contype, convalidated FROM pg_constraint WHERE conrelid = 'customers'::regclass AND contype IN ('u', 'c', 'f', 'p') ORDER BY 1`,
    );
    expect(constraints).toEqual([
      { conname: 'customers_account_fk', contype: 'f', convalidated: true },
      { conname: 'customers_email_at', contype: 'c', convalidated: true },
      { conname: 'customers_email_key', contype: 'u', convalidated: true },
      { conname: 'customers_pkey', contype: 'p', convalidated: true },
    ]);
    await expect(db.query(`INSERT INTO customers VALUES (1, 'no-at', NULL)`)).rejects.toThrow(/customers_email_at/);
  });

  test('addColumn then addCheck on the new column: refused at validation with the order that works', async () => {
    const before = await shape();
    const dir = planDir({ [`${ADD_COLUMN_THEN_CHECK.id}.json`]: ADD_COLUMN_THEN_CHECK });
    const r = await cli(['advance', '--to', 'contract'], { url: db.url, dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(
      'operations[1] (addCheck) acts on column accounts.age, which operations[0] (addColumn) adds in this migration',
    );
    expect(r.stderr).toContain('put operations[1] (addCheck) in a later migration');
    expect(await shape()).toEqual(before);
  });

  test('createTable then a custom CREATE INDEX CONCURRENTLY on it: the table is created first, expand succeeds, contract is reached', async () => {
    const dir = planDir({ [`${CREATE_THEN_CUSTOM_INDEX.id}.json`]: CREATE_THEN_CUSTOM_INDEX });
    const sql = await cli(['plan', CREATE_THEN_CUSTOM_INDEX.id, '--sql'], { url: db.url, dir });
    expect(sql.code, sql.stderr).toBe(0);
    const r = await cli(['advance', '--to', 'contract'], { url: db.url, dir });
    expect(r.code, r.stderr).toBe(0);
    expect(await db.query(`SELECT indisvalid FROM pg_index WHERE indexrelid = 'tasks_title_idx'::regclass`)).toEqual([
      { indisvalid: true },
    ]);
  });

  test('createTable then custom index: rollback after expand drops both', async () => {
    const dir = planDir({ [`${CREATE_THEN_CUSTOM_INDEX.id}.json`]: CREATE_THEN_CUSTOM_INDEX });
    expect((await cli(['advance', '--to', 'expand'], { url: db.url, dir })).code).toBe(0);
    const r = await cli(['rollback', CREATE_THEN_CUSTOM_INDEX.id], { url: db.url, dir });
    expect(r.code, r.stderr).toBe(0);
    expect(await db.query(`SELECT to_regclass('tasks') AS t, to_regclass('tasks_title_idx') AS i`)).toEqual([{ t: null, i: null }]);
  });

  test.each([CREATE_WITH_OTHER_TABLE_RENAME, CREATE_WITH_OTHER_TABLE_INDEX, CREATE_THEN_CREATE_INDEX])(
    '$id: an inspection that expects a query to fail does not abort the others (was dry-run exit 1, 25P02)',
    async (plan) => {
      const dir = planDir({ [`${plan.id}.json`]: plan });
      const dry = await cli(['advance', '--to', 'contract', '--dry-run'], { url: db.url, dir });
      expect(dry.code, dry.stderr).toBe(0);
      const r = await cli(['advance', '--to', 'contract'], { url: db.url, dir });
      expect(r.code, r.stderr).toBe(0);
      expect(await db.query(`SELECT state FROM pgshift.migrations WHERE id = $1`, [plan.id])).toEqual([{ state: 'contract' }]);
    },
  );
});
