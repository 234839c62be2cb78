import { beforeAll, describe, expect, test } from 'vitest';
import { AppWriter, checkWrites } from '../../tools/demo/writers.js';
import { cli } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { planDir } from '../support/plans.js';

const EVIL = `new "name"; DROP TABLE x; --`;

describe('hostile identifiers survive every phase', () => {
  const db = useDatabase();
  let dir: string;

  beforeAll(async () => {
    await db.query(`CREATE SCHEMA "Odd Schema"`);
    await db.query(`CREATE TABLE "Odd Schema"."Order Items" (
      "user" bigint PRIMARY KEY,
      "Weird""Quote" text NOT NULL DEFAULT 'it''s $pgshift$ here',
      "MixedCase" int,
      "select" text)`);
    await db.query(`COMMENT ON COLUMN "Odd Schema"."Order Items"."Weird""Quote" IS 'a comment with ''quotes'' and \\ backslash'`);
    await db.query(`INSERT INTO "Odd Schema"."Order Items" SELECT g, 'v' || g || '$pgshift$', g, 's' FROM generate_series(1, 3000) g`);
    // A composite text key with a non-default collation, and gaps.
    await db.query(`CREATE TABLE "Odd Schema"."Key ""Pairs""" (
      "Region" text COLLATE "C" NOT NULL, "seq" int NOT NULL, "user" text, PRIMARY KEY ("Region", "seq"))`);
    await db.query(
      `INSERT INTO "Odd Schema"."Key ""Pairs""" SELECT r, s, r || s FROM unnest(ARRAY['eu', 'EU', 'us-east', 'Ümlaut', 'a b']) r, generate_series(1, 900, 2) s`,
    );
    dir = planDir({
      '20261121_evil.json': {
        id: '20261121_evil',
        operations: [
          { kind: 'renameColumn', schema: 'Odd Schema', table: 'Order Items', from: 'Weird"Quote', to: EVIL },
          { kind: 'renameColumn', schema: 'Odd Schema', table: 'Order Items', from: 'MixedCase', to: 'user name' },
          { kind: 'renameColumn', schema: 'Odd Schema', table: 'Key "Pairs"', from: 'user', to: 'select' },
        ],
      },
    });
  });

  test('expand, dual-write and backfill under a writer using the quoted names', async () => {
    const writer = new AppWriter({
      url: db.url,
      label: 'old',
      schema: 'Odd Schema',
      table: 'Order Items',
      key: 'user',
      column: 'Weird"Quote',
      ownsKey: () => true,
      maxExistingId: 3000,
      insertShare: 0,
      pauseMs: 1,
    });
    await writer.start();
    for (const phase of ['expand', 'dual-write', 'backfill']) {
      const r = await cli(['advance', '--batch-size', '250', '--json'], { url: db.url, dir });
      expect(r.code, r.stderr).toBe(0);
      expect(r.json()).toMatchObject({ migrations: [{ state: phase }] });
    }
    await writer.waitForWrites(50);
    const stats = await writer.stop();
    expect(stats.errors, stats.lastError ?? '').toBe(0);
    const check = await checkWrites(db.pool, { schema: 'Odd Schema', name: 'Order Items', key: 'user', column: EVIL }, [writer]);
    expect(check.missing).toEqual([]);
    const [pairs] = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM "Odd Schema"."Key ""Pairs""" WHERE "select" IS DISTINCT FROM "user"`,
    );
    expect(Number(pairs!.n)).toBe(0);
  });

  test('verify and contract; the final catalog has exactly the new names', async () => {
    const v = await cli(['verify', '--json'], { url: db.url, dir });
    expect(v.code, v.stderr).toBe(0);
    expect(v.json()).toMatchObject({ verifications: [{ passed: true, rowsChecked: 3000 * 2 + 5 * 450 }] });
    const r = await cli(['advance'], { url: db.url, dir });
    expect(r.code, r.stderr).toBe(0);
    const cols = await db.query<{ attname: string; attnotnull: boolean; def: string | null; comment: string | null }>(
      `SELECT attname, attnotnull, pg_get_expr(d.adbin, d.adrelid) AS def, col_description(a.attrelid, a.attnum) AS comment
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = '"Odd Schema"."Order Items"'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    );
    expect(cols).toEqual([
      { attname: 'user', attnotnull: true, def: null, comment: null },
      { attname: 'select', attnotnull: false, def: null, comment: null },
      { attname: EVIL, attnotnull: true, def: `'it''s $pgshift$ here'::text`, comment: `a comment with 'quotes' and \\ backslash` },
      { attname: 'user name', attnotnull: false, def: null, comment: null },
    ]);
    const [row] = await db.query(`SELECT * FROM "Odd Schema"."Order Items" WHERE "user" = 7`);
    expect(row).toMatchObject({ [EVIL]: expect.stringMatching(/\$pgshift\$|^old-/), 'user name': 7 });
    const pairs = await db.query<{ attname: string }>(
      `SELECT attname FROM pg_attribute WHERE attrelid = '"Odd Schema"."Key ""Pairs"""'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    );
    expect(pairs.map((p) => p.attname)).toEqual(['Region', 'seq', 'select']);
    expect(await db.query(`SELECT to_regclass('x') AS x`)).toEqual([{ x: null }]);
  });
});
