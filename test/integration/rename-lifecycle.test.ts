import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { AppWriter, checkWrites } from '../../src/demo/writers.js';
import { cli } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { planDir, renamePlan } from '../support/plans.js';

const ID = '20261121_rename_users_email';
const ROWS = 20_000;

describe('renameColumn through every phase with an old and a new app writing', () => {
  const db = useDatabase();
  let dir: string;
  let oldApp: AppWriter;
  let newApp: AppWriter;
  const run = (...args: string[]) => cli(args, { url: db.url, dir });
  const mismatches = async () =>
    Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM users WHERE email IS DISTINCT FROM email_address`))[0]!.n);

  beforeAll(async () => {
    dir = planDir(renamePlan(ID, { table: 'users', from: 'email', to: 'email_address' }));
    await db.query(`CREATE TABLE users (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      email text NOT NULL DEFAULT 'nobody@example.com',
      name text,
      created_at timestamptz NOT NULL DEFAULT now())`);
    await db.query(`INSERT INTO users (email, name) SELECT 'user' || g || '@example.com', 'n' || g FROM generate_series(1, ${ROWS}) g`);
    await db.query('ANALYZE users');
    oldApp = new AppWriter({ url: db.url, label: 'old', table: 'users', key: 'id', column: 'email', ownsKey: (id) => id % 2 === 1, maxExistingId: ROWS, pauseMs: 1 });
    newApp = new AppWriter({ url: db.url, label: 'new', table: 'users', key: 'id', column: 'email_address', ownsKey: (id) => id % 2 === 0, maxExistingId: ROWS, pauseMs: 1 });
    await oldApp.start();
  });

  afterAll(async () => {
    await oldApp.stop().catch(() => undefined);
    await newApp.stop().catch(() => undefined);
  });

  test('expand adds the new column beside the old one, nullable, without the default yet', async () => {
    const r = await run('advance', '--json');
    expect(r.code, r.stderr).toBe(0);
    const body = r.json<{ migrations: { id: string; ran: { phase: string }[]; state: string; next: string }[] }>();
    expect(body.migrations).toMatchObject([{ id: ID, state: 'expand', next: 'dual-write' }]);
    expect(body.migrations[0]!.ran.map((p) => p.phase)).toEqual(['expand']);
    const [col] = await db.query<{ attnotnull: boolean; type: string; def: string | null }>(
      `SELECT attnotnull, format_type(atttypid, atttypmod) AS type, pg_get_expr(d.adbin, d.adrelid) AS def
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = 'users'::regclass AND attname = 'email_address'`,
    );
    expect(col).toEqual({ attnotnull: false, type: 'text', def: null });
  });

  test('dual-write keeps both columns equal for writes from either app version', async () => {
    const r = await run('advance');
    expect(r.code, r.stderr).toBe(0);
    await newApp.start();
    // Direct probes of each direction, beside the running writers.
    const [ins] = await db.query<{ id: string; email: string }>(`INSERT INTO users (email_address) VALUES ('fresh@new') RETURNING id, email`);
    expect(ins!.email).toBe('fresh@new');
    const [ins2] = await db.query<{ email_address: string }>(`INSERT INTO users (email) VALUES ('fresh@old') RETURNING email_address`);
    expect(ins2!.email_address).toBe('fresh@old');
    const [upd] = await db.query<{ email: string }>(`UPDATE users SET email_address = 'moved@new' WHERE id = 2 RETURNING email`);
    expect(upd!.email).toBe('moved@new');
    const [upd2] = await db.query<{ email_address: string }>(`UPDATE users SET email = 'moved@old' WHERE id = 4 RETURNING email_address`);
    expect(upd2!.email_address).toBe('moved@old');
  });

  test('backfill copies every row in keyset batches while both apps write', async () => {
    expect(await mismatches()).toBeGreaterThan(0);
    const r = await run('advance', '--batch-size', '1500', '--json');
    expect(r.code, r.stderr).toBe(0);
    const ran = r.json<{ migrations: { ran: { details: { tasks: Record<string, { batches: number }> } }[] }[] }>().migrations[0]!.ran[0]!;
    expect(ran.details.tasks['0.backfill']!.batches).toBeGreaterThanOrEqual(Math.floor(ROWS / 1500));
    expect(await mismatches()).toBe(0);
  });

  test('verify checks values and records evidence', async () => {
    const r = await run('verify', '--json');
    expect(r.code, r.stderr).toBe(0);
    const [v] = r.json<{ verifications: { passed: boolean; rowsChecked: number; mismatches: number }[] }>().verifications;
    expect(v!.passed).toBe(true);
    expect(v!.mismatches).toBe(0);
    expect(v!.rowsChecked).toBeGreaterThan(ROWS);
  });

  test('contract swaps the columns; every write of both apps is present', async () => {
    await Promise.all([oldApp.waitForWrites(100), newApp.waitForWrites(100)]);
    // The old app version is retired before contract: that is the expand/contract deal.
    const oldStats = await oldApp.stop();
    const r = await run('advance', '--json');
    expect(r.code, r.stderr).toBe(0);
    await newApp.waitForWrites(newApp.stats.inserts + newApp.stats.updates + 20);
    const newStats = await newApp.stop();
    expect(oldStats.errors, oldStats.lastError ?? '').toBe(0);
    expect(newStats.errors, newStats.lastError ?? '').toBe(0);
    expect(oldStats.inserts).toBeGreaterThan(0);
    expect(newStats.inserts).toBeGreaterThan(0);

    const check = await checkWrites(db.pool, { name: 'users', key: 'id', column: 'email_address' }, [oldApp, newApp]);
    expect(check.missing).toEqual([]);
    expect(check.found).toBe(check.issued);

    const cols = await db.query<{ attname: string; attnotnull: boolean; def: string | null }>(
      `SELECT attname, attnotnull, pg_get_expr(d.adbin, d.adrelid) AS def
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = 'users'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    );
    expect(cols.map((c) => c.attname)).toEqual(['id', 'name', 'created_at', 'email_address']);
    expect(cols.find((c) => c.attname === 'email_address')).toMatchObject({ attnotnull: true, def: "'nobody@example.com'::text" });
    expect(await db.query(`SELECT tgname FROM pg_trigger WHERE tgrelid = 'users'::regclass AND NOT tgisinternal`)).toEqual([]);
    expect(await db.query(`SELECT proname FROM pg_proc WHERE pronamespace = 'pgshift'::regnamespace`)).toEqual([]);
    expect(await db.query(`SELECT conname FROM pg_constraint WHERE conrelid = 'users'::regclass AND contype = 'c'`)).toEqual([]);
  });

  test('after contract: nothing to do, status complete, rollback refused (exit 3)', async () => {
    const again = await run('advance', '--json');
    expect(again.code).toBe(0);
    expect(again.json<{ migrations: unknown[] }>().migrations).toEqual([]);
    const status = await run('status', ID, '--json');
    expect(status.json<{ migrations: { id: string; state: string; complete: boolean }[] }>().migrations).toMatchObject([
      { id: ID, state: 'contract', complete: true },
    ]);
    const rb = await run('rollback', ID);
    expect(rb.code).toBe(3);
    expect(rb.stderr).toMatch(/rollback of 20261121_rename_users_email refused: contract has run/);
    const history = await run('history', '--json');
    const runs = history.json<{ runs: { phase: string; action: string; status: string }[] }>().runs;
    expect(runs.filter((x) => x.action === 'apply' && x.status === 'succeeded').map((x) => x.phase)).toEqual([
      'expand',
      'dual-write',
      'backfill',
      'contract',
    ]);
  });
});
