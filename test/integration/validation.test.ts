import { beforeAll, describe, expect, test } from 'vitest';
import { cli } from '../support/cli.js';
import { snapshot } from '../support/catalog.js';
import { useDatabase } from '../support/database.js';
import { planDir, renamePlan } from '../support/plans.js';

/** Every bad input exits 2, names the problem, and leaves the database exactly as it was. */
describe('invalid input: exit 2, database untouched', () => {
  const db = useDatabase();
  let before: Awaited<ReturnType<typeof snapshot>>;

  beforeAll(async () => {
    await db.query(`CREATE TABLE users (id bigint PRIMARY KEY, email text, name text, code text, serial_no serial, doc text, nick text,
      tag text, label text, label_upper text GENERATED ALWAYS AS (upper(label)) STORED, EXCLUDE USING btree (email WITH =))`);
    await db.query(`CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$`);
    await db.query(`CREATE TRIGGER code_changed BEFORE UPDATE OF code ON users FOR EACH ROW EXECUTE FUNCTION touch()`);
    await db.query(`CREATE POLICY docs_visible ON users USING (doc IS NOT NULL)`);
    await db.query(`CREATE STATISTICS users_tag_code (dependencies) ON tag, doc FROM users`);
    await db.query(`CREATE TABLE nokey (a int, b text)`);
    await db.query(`CREATE TABLE nullable_unique (a int UNIQUE, b text)`);
    await db.query(`CREATE VIEW user_names AS SELECT id, name FROM users`);
    await db.query(`CREATE INDEX users_code_lower ON users (lower(code))`);
    await db.query(`GRANT SELECT (doc) ON users TO PUBLIC`);
    before = await snapshot(db, 'users');
  });

  async function expectRejected(plan: Record<string, unknown>, ...patterns: (string | RegExp)[]) {
    const r = await cli(['advance', '--json'], { url: db.url, dir: planDir(plan) });
    expect(r.code, r.stderr).toBe(2);
    for (const p of patterns) expect(r.stderr).toMatch(p);
    expect(r.json()).toMatchObject({ ok: false, exitCode: 2 });
    expect(await snapshot(db, 'users')).toEqual(before);
    expect(await db.query(`SELECT to_regnamespace('pgshift') AS ns`)).toEqual([{ ns: null }]);
    return r;
  }

  test('a malformed plan reports every problem at once, with its path', async () => {
    const r = await expectRejected(
      {
        'bad.json': {
          id: 'not an id!',
          extra: true,
          operations: [{ kind: 'renameColumn', table: 'users', from: 7, by: 'x' }, { kind: 'dropEverything' }],
        },
      },
      /id: must start with a letter or digit/,
      /extra: unknown key/,
      /operations\[0\]\.from: expected a string/,
      /operations\[0\]\.to: required/,
      /operations\[0\]\.by: unknown key/,
      /operations\[1\]\.kind: unknown operation kind "dropEverything"/,
    );
    expect(r.json<{ problems: unknown[] }>().problems).toHaveLength(6);
  });

  test('a file that is not JSON', async () => {
    await expectRejected({ 'broken.json': '{"id": "x", ' }, /broken\.json: not valid JSON/);
  });

  test('two files with the same id', async () => {
    await expectRejected(
      {
        ...renamePlan('20261121_a', { table: 'users', from: 'name', to: 'n2' }),
        'b.json': { id: '20261121_a', operations: [{ kind: 'renameColumn', table: 'users', from: 'name', to: 'n3' }] },
      },
      /id 20261121_a is also used by/,
    );
  });

  test('unknown table, unknown column, target taken', async () => {
    await expectRejected(
      renamePlan('20261121_t', { table: 'nope', from: 'a', to: 'b' }),
      /operations\[0\]\.table: table nope does not exist/,
    );
    await expectRejected(
      renamePlan('20261121_c', { table: 'users', from: 'nope', to: 'b' }),
      /operations\[0\]\.from: column nope does not exist in users/,
    );
    await expectRejected(
      renamePlan('20261121_x', { table: 'users', from: 'name', to: 'code' }),
      /operations\[0\]\.to: column code already exists in users/,
    );
    await expectRejected(
      renamePlan('20261121_s', { schema: 'other', table: 'users', from: 'name', to: 'b' }),
      /table other\.users does not exist/,
    );
  });

  test('no key to batch on (a nullable unique column is not a key)', async () => {
    await expectRejected(
      renamePlan('20261121_k', { table: 'nokey', from: 'b', to: 'c' }),
      /nokey has no primary key or unique index over NOT NULL columns/,
    );
    await expectRejected(renamePlan('20261121_k2', { table: 'nullable_unique', from: 'b', to: 'c' }), /nullable_unique has no primary key/);
  });

  test('what hangs on the column and cannot be carried over is listed, with the reason', async () => {
    await expectRejected(
      renamePlan('20261121_u', { table: 'users', from: 'email', to: 'mail' }),
      /email has constraint users_email_excl on table users, which cannot be carried over: exclusion constraints/,
    );
    await expectRejected(
      renamePlan('20261121_v', { table: 'users', from: 'name', to: 'full_name' }),
      /name has rule _RETURN on view user_names, which cannot be carried over: a view or rule reads the column/,
    );
    await expectRejected(
      renamePlan('20261121_e', { table: 'users', from: 'code', to: 'c2' }),
      /code has trigger code_changed on table users, which cannot be carried over: a trigger names the column/,
    );
    await expectRejected(
      renamePlan('20261121_g', { table: 'users', from: 'doc', to: 'd2' }),
      /doc has policy docs_visible on table users, which cannot be carried over: a row-level security policy/,
    );
    await expectRejected(
      renamePlan('20261121_s', { table: 'users', from: 'tag', to: 't2' }),
      /tag has statistics object users_tag_code, which cannot be carried over: extended statistics/,
    );
    await expectRejected(
      renamePlan('20261121_l', { table: 'users', from: 'label', to: 'l2' }),
      /label has default value for column label_upper of table users, which cannot be carried over: a generated column is computed from it/,
    );
  });

  test('several migrations: every problem of the first invalid one is reported', async () => {
    const r = await expectRejected(
      { 'm.json': { id: '20261121_m', operations: [{ kind: 'renameColumn', table: 'users', from: 'nope', to: 'code' }] } },
      /column nope does not exist/,
    );
    expect(r.json<{ problems: { path: string }[] }>().problems.map((p) => p.path)).toEqual(['operations[0].to', 'operations[0].from']);
  });

  test('bad arguments: unknown phase, bad batch size, unknown migration, no database', async () => {
    const dir = planDir(renamePlan('20261121_ok', { table: 'users', from: 'name', to: 'nm' }));
    expect((await cli(['advance', '--to', 'explode'], { url: db.url, dir })).code).toBe(2);
    expect((await cli(['advance', '--batch-size', '0'], { url: db.url, dir })).code).toBe(2);
    const unknown = await cli(['advance', '20261121_missing'], { url: db.url, dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no migration 20261121_missing (known: 20261121_ok)');
    expect((await cli(['status'], { url: db.url, dir: '/nonexistent/dir' })).code).toBe(2);
    expect(await snapshot(db, 'users')).toEqual(before);
  });

  test('dry run validates and shows the SQL without changing anything', async () => {
    const dir = planDir(renamePlan('20261121_dry', { table: 'users', from: 'nick', to: 'display_name' }));
    const r = await cli(['advance', '--dry-run', '--to', 'contract'], { url: db.url, dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('would run expand, dual-write, backfill, contract');
    expect(r.stdout).toContain('ALTER TABLE "public"."users" ADD COLUMN "display_name" text;');
    const plan = await cli(['plan', '20261121_dry', '--phase', 'contract', '--sql'], { url: db.url, dir });
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('ALTER TABLE "public"."users" DROP COLUMN "nick";');
    expect(plan.stdout).toContain('-- lock: ACCESS EXCLUSIVE; transaction: phase');
    expect(await snapshot(db, 'users')).toEqual(before);
    expect(await db.query(`SELECT to_regnamespace('pgshift') AS ns`)).toEqual([{ ns: null }]);
  });
});
