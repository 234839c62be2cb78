import { beforeAll, describe, expect, test } from 'vitest';
import { cli } from '../support/cli.js';
import { useDatabase, type TestDatabase } from '../support/database.js';
import { planDir } from '../support/plans.js';

/**
 * Carry-over: everything that hangs on a column survives a rename and then a type change, under
 * the same names. The expected final catalog is a control schema created directly in the final
 * shape; both are read the same way, with the schema name taken out.
 */

const SCHEMAS = ['App', 'Expected'] as const;

async function tableShape(db: TestDatabase, schema: string, table: string) {
  const strip = (s: string | null) => (s === null ? null : s.replaceAll(`"${schema}".`, 'S.').replaceAll(`${schema}.`, 'S.'));
  const reg = `"${schema}"."${table}"`;
  const columns = await db.query(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
            pg_get_expr(d.adbin, d.adrelid) AS default, a.attidentity::text AS identity,
            col_description(a.attrelid, a.attnum) AS comment, a.attacl::text AS acl,
            (SELECT c.relname FROM pg_class c WHERE c.oid = pg_get_serial_sequence($1, a.attname)::regclass) AS sequence
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attname`,
    [reg],
  );
  const indexes = (
    await db.query<{ name: string; def: string; valid: boolean }>(
      `SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def, i.indisvalid AS valid
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1::regclass ORDER BY 1`,
      [reg],
    )
  ).map((r) => ({ ...r, def: strip(r.def) }));
  const constraints = (
    await db.query<{ name: string; on: string; def: string; validated: boolean }>(
      `SELECT conname AS name, conrelid::regclass::text AS on, pg_get_constraintdef(oid) AS def, convalidated AS validated
         FROM pg_constraint WHERE (conrelid = $1::regclass OR confrelid = $1::regclass) AND contype <> 'n' ORDER BY 1`,
      [reg],
    )
  ).map((r) => ({ ...r, on: strip(r.on), def: strip(r.def) }));
  return { columns, indexes, constraints };
}

describe('carry-over: rename, then retype, a column with everything hanging on it', () => {
  const db = useDatabase();

  beforeAll(async () => {
    for (const s of SCHEMAS) {
      await db.query(`CREATE SCHEMA "${s}"`);
      await db.query(`CREATE TABLE "${s}".accounts (code int PRIMARY KEY)`);
    }
    await db.query(`CREATE TABLE "App"."Users" (
      id bigint PRIMARY KEY,
      acct int NOT NULL DEFAULT 0 CONSTRAINT users_acct_key UNIQUE
        CONSTRAINT users_acct_fk REFERENCES "App".accounts (code) CONSTRAINT users_acct_pos CHECK (acct >= 0),
      note text)`);
    await db.query(`CREATE INDEX users_acct_partial ON "App"."Users" (acct) WHERE note IS NOT NULL`);
    await db.query(`CREATE INDEX users_acct_expr ON "App"."Users" ((acct * 2))`);
    await db.query(`CREATE INDEX users_note_acct ON "App"."Users" (note, acct)`);
    await db.query(`COMMENT ON COLUMN "App"."Users".acct IS 'the account'`);
    await db.query(`GRANT SELECT (acct), UPDATE (acct) ON "App"."Users" TO PUBLIC`);
    await db.query(
      `CREATE TABLE "App".orders (id bigint PRIMARY KEY, acct int CONSTRAINT orders_acct_fk REFERENCES "App"."Users" (acct) ON DELETE CASCADE)`,
    );
    await db.query(`INSERT INTO "App".accounts SELECT g FROM generate_series(0, 9999) g`);
    await db.query(`INSERT INTO "App"."Users" SELECT g, g, CASE WHEN g % 3 = 0 THEN 'n' || g END FROM generate_series(1, 3000) g`);
    await db.query(`INSERT INTO "App".orders SELECT g, 1 + g % 3000 FROM generate_series(1, 2000) g`);

    // The control: the same objects created directly on the final column (bigint, renamed).
    await db.query(`CREATE TABLE "Expected"."Users" (
      id bigint PRIMARY KEY,
      note text,
      "Account No" bigint NOT NULL DEFAULT 0 CONSTRAINT users_acct_key UNIQUE
        CONSTRAINT users_acct_fk REFERENCES "Expected".accounts (code) CONSTRAINT users_acct_pos CHECK ("Account No" >= 0))`);
    await db.query(`CREATE INDEX users_acct_partial_x ON "Expected"."Users" ("Account No") WHERE note IS NOT NULL`);
    await db.query(`CREATE INDEX users_acct_expr_x ON "Expected"."Users" (("Account No" * 2))`);
    await db.query(`CREATE INDEX users_note_acct_x ON "Expected"."Users" (note, "Account No")`);
    for (const i of ['users_acct_partial', 'users_acct_expr', 'users_note_acct'])
      await db.query(`ALTER INDEX "Expected".${i}_x RENAME TO ${i}`);
    await db.query(`COMMENT ON COLUMN "Expected"."Users"."Account No" IS 'the account'`);
    await db.query(`GRANT SELECT ("Account No"), UPDATE ("Account No") ON "Expected"."Users" TO PUBLIC`);
    await db.query(
      `CREATE TABLE "Expected".orders (id bigint PRIMARY KEY, acct int CONSTRAINT orders_acct_fk REFERENCES "Expected"."Users" ("Account No") ON DELETE CASCADE)`,
    );
  });

  const rename = {
    id: '20261201_rename_acct',
    operations: [{ kind: 'renameColumn', schema: 'App', table: 'Users', from: 'acct', to: 'Account No' }],
  };
  const retype = {
    id: '20261202_acct_bigint',
    operations: [{ kind: 'changeColumnType', schema: 'App', table: 'Users', column: 'Account No', type: 'bigint' }],
  };

  test('rename: every index, constraint, FK in and out, default, comment and grant is on the new name', async () => {
    const dir = planDir({ 'a.json': rename });
    for (const phase of ['expand', 'dual-write']) expect((await cli(['advance', '--to', phase], { url: db.url, dir })).code).toBe(0);
    // Old and new app versions write while the migration runs; the FKs hold for both.
    await db.query(`INSERT INTO "App"."Users" (id, acct) VALUES (5001, 5001)`);
    await db.query(`INSERT INTO "App"."Users" (id, "Account No") VALUES (5002, 5002)`);
    await db.query(`UPDATE "App"."Users" SET "Account No" = 7001 WHERE id = 2997`);
    await db.query(`INSERT INTO "App".orders VALUES (9001, 5002)`);
    const backfill = await cli(['advance', '--to', 'backfill', '--json'], { url: db.url, dir });
    expect(backfill.code, backfill.stderr).toBe(0);
    const plan = await cli(['plan', rename.id, '--sql'], { url: db.url, dir });
    expect(plan.stdout).toMatch(
      /CREATE UNIQUE INDEX CONCURRENTLY "pgshift_[0-9a-f]{12}_i\d" ON "App"."Users" USING btree \("Account No"\)/,
    );
    expect(plan.stdout).toContain(
      'FOREIGN KEY ("acct") REFERENCES "App"."Users" ("Account No") ON UPDATE NO ACTION ON DELETE CASCADE NOT VALID',
    );
    const contract = await cli(['advance', '--to', 'contract'], { url: db.url, dir });
    expect(contract.code, contract.stderr).toBe(0);

    const after = await tableShape(db, 'App', 'Users');
    const acct = after.columns.find((c) => c.name === 'Account No');
    expect(acct).toMatchObject({ type: 'integer', not_null: true, default: '0', comment: 'the account', acl: '{=rw/postgres}' });
    expect(after.columns.map((c) => c.name)).toEqual(['Account No', 'id', 'note']);
    expect(after.indexes.map((i) => [i.name, i.def, i.valid])).toEqual([
      ['Users_pkey', 'CREATE UNIQUE INDEX "Users_pkey" ON S."Users" USING btree (id)', true],
      ['users_acct_expr', 'CREATE INDEX users_acct_expr ON S."Users" USING btree ((("Account No" * 2)))', true],
      ['users_acct_key', 'CREATE UNIQUE INDEX users_acct_key ON S."Users" USING btree ("Account No")', true],
      ['users_acct_partial', 'CREATE INDEX users_acct_partial ON S."Users" USING btree ("Account No") WHERE (note IS NOT NULL)', true],
      ['users_note_acct', 'CREATE INDEX users_note_acct ON S."Users" USING btree (note, "Account No")', true],
    ]);
    expect(after.constraints.map((c) => [c.name, c.on, c.def, c.validated])).toEqual([
      ['Users_pkey', 'S."Users"', 'PRIMARY KEY (id)', true],
      ['orders_acct_fk', 'S.orders', 'FOREIGN KEY (acct) REFERENCES S."Users"("Account No") ON DELETE CASCADE', true],
      ['users_acct_fk', 'S."Users"', 'FOREIGN KEY ("Account No") REFERENCES S.accounts(code)', true],
      ['users_acct_key', 'S."Users"', 'UNIQUE ("Account No")', true],
      ['users_acct_pos', 'S."Users"', 'CHECK (("Account No" >= 0))', true],
    ]);
    expect(await db.query(`SELECT "Account No" AS v FROM "App"."Users" WHERE id IN (2997, 5001, 5002) ORDER BY id`)).toEqual([
      { v: 7001 },
      { v: 5001 },
      { v: 5002 },
    ]);
    // The carried constraints act: the FK in cascades, the CHECK and the unique key refuse.
    await db.query(`DELETE FROM "App"."Users" WHERE id = 5002`);
    expect(await db.query(`SELECT count(*)::int AS n FROM "App".orders WHERE id = 9001`)).toEqual([{ n: 0 }]);
    await expect(db.query(`INSERT INTO "App"."Users" (id, "Account No") VALUES (6000, -1)`)).rejects.toThrow(/users_acct_pos/);
    await expect(db.query(`INSERT INTO "App"."Users" (id, "Account No") VALUES (6000, 5001)`)).rejects.toThrow(/users_acct_key/);
    expect(await db.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'pgshift\\_%' AND relkind = 'i'`)).toEqual([
      { n: 0 },
    ]);
  });

  test('retype to bigint: the final catalog equals the control built directly, names included', async () => {
    const dir = planDir({ 'a.json': rename, 'b.json': retype });
    for (const phase of ['expand', 'dual-write']) expect((await cli(['advance', '--to', phase], { url: db.url, dir })).code).toBe(0);
    await db.query(`INSERT INTO "App"."Users" (id, "Account No") VALUES (5003, 5003)`);
    await db.query(`INSERT INTO "App"."Users" (id, "Account No_new") VALUES (5004, 5004)`);
    await db.query(`UPDATE "App"."Users" SET "Account No_new" = 7002 WHERE id = 2998`);
    const r = await cli(['advance', '--to', 'contract'], { url: db.url, dir });
    expect(r.code, r.stderr).toBe(0);
    const after = await tableShape(db, 'App', 'Users');
    const expected = await tableShape(db, 'Expected', 'Users');
    expect(after.indexes).toEqual(expected.indexes);
    expect(after.constraints).toEqual(expected.constraints);
    expect(after.columns).toEqual(expected.columns);
    expect(await db.query(`SELECT "Account No" AS v FROM "App"."Users" WHERE id IN (2997, 2998, 5003, 5004) ORDER BY id`)).toEqual([
      { v: '7001' },
      { v: '7002' },
      { v: '5003' },
      { v: '5004' },
    ]);
  });
});

describe('carry-over: an identity primary key from int to bigint, with a foreign key into it', () => {
  const db = useDatabase();

  beforeAll(async () => {
    for (const s of SCHEMAS) {
      await db.query(`CREATE SCHEMA "${s}"`);
    }
    await db.query(`CREATE TABLE "App".events (id int GENERATED ALWAYS AS IDENTITY (CACHE 5) PRIMARY KEY, title text)`);
    await db.query(
      `CREATE TABLE "App".event_tags (n int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_id int NOT NULL REFERENCES "App".events (id), tag text)`,
    );
    await db.query(`INSERT INTO "App".events (title) SELECT 'e' || g FROM generate_series(1, 2000) g`);
    await db.query(`INSERT INTO "App".event_tags (event_id, tag) SELECT 1 + g % 2000, 't' FROM generate_series(1, 3000) g`);
    await db.query(`CREATE TABLE "Expected".events (title text, id bigint GENERATED ALWAYS AS IDENTITY (CACHE 5) PRIMARY KEY)`);
    await db.query(
      `CREATE TABLE "Expected".event_tags (event_id int NOT NULL CONSTRAINT event_tags_event_id_fkey REFERENCES "Expected".events (id), tag text)`,
    );
  });

  test('a key and the column referencing it, retyped in one migration: refused (exit 2), nothing changed', async () => {
    const both = {
      id: '20261203_both',
      operations: [
        { kind: 'changeColumnType', schema: 'App', table: 'events', column: 'id', type: 'bigint' },
        { kind: 'changeColumnType', schema: 'App', table: 'event_tags', column: 'event_id', type: 'bigint' },
      ],
    };
    const before = await tableShape(db, 'App', 'events');
    const r = await cli(['advance', '--json'], { url: db.url, dir: planDir({ 'a.json': both }) });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(
      'operations[0]: foreign key event_tags_event_id_fkey links this column to App.event_tags (event_id), which operations[1] changes too; run them as two migrations, the referenced side first',
    );
    expect(r.stderr).toContain(
      'operations[1]: foreign key event_tags_event_id_fkey links this column to App.events (id), which operations[0] changes too',
    );
    expect(await tableShape(db, 'App', 'events')).toEqual(before);
    expect(await db.query(`SELECT to_regnamespace('pgshift') AS ns`)).toEqual([{ ns: null }]);
  });

  test('the identity continues on the same sequence name, the PK and FK keep their names', async () => {
    const dir = planDir({
      'a.json': {
        id: '20261203_events_bigint',
        operations: [{ kind: 'changeColumnType', schema: 'App', table: 'events', column: 'id', type: 'bigint' }],
      },
    });
    for (const phase of ['expand', 'dual-write']) expect((await cli(['advance', '--to', phase], { url: db.url, dir })).code).toBe(0);
    // The old app inserts as before: the identity fills id, the trigger fills id_new.
    await db.query(`INSERT INTO "App".events (title) VALUES ('during')`);
    const r = await cli(['advance', '--to', 'contract'], { url: db.url, dir });
    expect(r.code, r.stderr).toBe(0);
    const after = await tableShape(db, 'App', 'events');
    const expected = await tableShape(db, 'Expected', 'events');
    expect(after).toEqual(expected);
    expect(after.columns.find((c) => c.name === 'id')).toMatchObject({ type: 'bigint', identity: 'a', sequence: 'events_id_seq' });
    const [next] = await db.query<{ id: string }>(`INSERT INTO "App".events (title) VALUES ('after') RETURNING id`);
    expect(Number(next!.id)).toBeGreaterThan(2001);
    expect(await db.query(`SELECT count(*)::int AS n FROM "App".event_tags t JOIN "App".events e ON e.id = t.event_id`)).toEqual([
      { n: 3000 },
    ]);
    await expect(db.query(`INSERT INTO "App".event_tags (event_id, tag) VALUES (999999, 'x')`)).rejects.toThrow(/event_tags_event_id_fkey/);
  });
});

describe('carry-over: a serial column renamed keeps its sequence', () => {
  const db = useDatabase();

  beforeAll(async () => {
    await db.query(`CREATE SCHEMA "App"`);
    await db.query(`CREATE TABLE "App".tickets (id bigint PRIMARY KEY, no serial NOT NULL, title text)`);
    await db.query(`INSERT INTO "App".tickets (id, title) SELECT g, 't' || g FROM generate_series(1, 1500) g`);
  });

  test('the sequence is handed to the new column (OWNED BY), its default follows, numbering continues', async () => {
    const dir = planDir({
      'a.json': {
        id: '20261204_ticket_no',
        operations: [{ kind: 'renameColumn', schema: 'App', table: 'tickets', from: 'no', to: 'ticket no' }],
      },
    });
    for (const phase of ['expand', 'dual-write']) expect((await cli(['advance', '--to', phase], { url: db.url, dir })).code).toBe(0);
    // The old app still inserts without the column: the serial default numbers the row, the trigger copies it.
    const [during] = await db.query<{ no: number; copy: number }>(
      `INSERT INTO "App".tickets (id, title) VALUES (2000, 'during') RETURNING no, "ticket no" AS copy`,
    );
    expect(during).toEqual({ no: 1501, copy: 1501 });
    const r = await cli(['advance', '--to', 'contract'], { url: db.url, dir });
    expect(r.code, r.stderr).toBe(0);
    expect(
      await db.query(
        `SELECT pg_get_serial_sequence('"App".tickets', 'ticket no') AS seq, a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS def
           FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE a.attrelid = '"App".tickets'::regclass AND a.attname = 'ticket no'`,
      ),
    ).toEqual([{ seq: '"App".tickets_no_seq', not_null: true, def: `nextval('"App".tickets_no_seq'::regclass)` }]);
    const [after] = await db.query<{ n: number }>(
      `INSERT INTO "App".tickets (id, title) VALUES (2001, 'after') RETURNING "ticket no" AS n`,
    );
    expect(after).toEqual({ n: 1502 });
  });
});
