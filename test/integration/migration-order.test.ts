import { beforeAll, describe, expect, test } from 'vitest';
import { cli } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { planDir } from '../support/plans.js';

const rename = (id: string, from: string, to: string) => ({
  [`${id}.json`]: { id, operations: [{ kind: 'renameColumn', table: 't', from, to }] },
});

describe('migrations that touch the same columns run one after the other', () => {
  const db = useDatabase();
  let dir: string;
  const run = (...args: string[]) => cli(args, { url: db.url, dir });

  beforeAll(async () => {
    await db.query(`CREATE TABLE t (id int PRIMARY KEY, a text NOT NULL DEFAULT 'd', other text)`);
    await db.query(`INSERT INTO t SELECT g, 'v' || g, 'o' || g FROM generate_series(1, 1000) g`);
    dir = planDir({
      ...rename('20261121_1_a_to_b', 'a', 'b'),
      ...rename('20261121_2_b_to_c', 'b', 'c'),
      ...rename('20261121_3_other', 'other', 'o2'),
    });
  });

  test('a rename of the column another unfinished rename creates waits; unrelated ones advance', async () => {
    const r = await run('advance', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({
      migrations: [
        { id: '20261121_1_a_to_b', state: 'expand' },
        { id: '20261121_2_b_to_c', state: 'pending', waitingFor: { migration: '20261121_1_a_to_b', columns: ['public.t.b'] } },
        { id: '20261121_3_other', state: 'expand' },
      ],
    });
    const named = await run('advance', '20261121_2_b_to_c');
    expect(named.code).toBe(3);
    expect(named.stderr).toContain(
      '20261121_2_b_to_c: waits for 20261121_1_a_to_b, which is not finished and touches the same column(s): public.t.b',
    );
  });

  test('once the first has contracted, the second runs on its final column and keeps NOT NULL and the default', async () => {
    expect((await run('advance', '20261121_1_a_to_b', '--to', 'contract')).code).toBe(0);
    const r = await run('advance', '--to', 'contract', '--json');
    expect(r.code, r.stderr).toBe(0);
    const cols = await db.query<{ attname: string; attnotnull: boolean; def: string | null }>(
      `SELECT attname, attnotnull, pg_get_expr(d.adbin, d.adrelid) AS def
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = 't'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    );
    expect(cols).toEqual([
      { attname: 'id', attnotnull: true, def: null },
      { attname: 'o2', attnotnull: false, def: null },
      { attname: 'c', attnotnull: true, def: `'d'::text` },
    ]);
    const [row] = await db.query(`SELECT c, o2 FROM t WHERE id = 5`);
    expect(row).toEqual({ c: 'v5', o2: 'o5' });
  });
});
