import { beforeAll, describe, expect, test } from 'vitest';
import { ExpectationFailedError, Pgshift } from '../../src/index.js';
import { cli } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { planDir, renamePlan } from '../support/plans.js';

describe('advance --expect: a pipeline states where each migration must stand', () => {
  const db = useDatabase();
  const id = '0001_users_email';
  let dir: string;
  const run = (...args: string[]) => cli(args, { url: db.url, dir });
  const ledger = async () => ({
    state: (await db.query<{ state: string }>(`SELECT state FROM pgshift.migrations WHERE id = $1`, [id]))[0]?.state ?? 'pending',
    runs: (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pgshift.phase_runs`))[0]!.n,
  });

  beforeAll(async () => {
    dir = planDir(renamePlan(id, { table: 'users', from: 'email', to: 'email_address' }));
    await db.query(`CREATE TABLE users (id bigint PRIMARY KEY, email text)`);
    await db.query(`INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 100) g`);
  });

  test('each deploy advances one phase when the state is as expected; a repeated deploy is refused with exit 3 and changes nothing', async () => {
    const first = await run('advance', '--expect', `${id}@pending`, '--json');
    expect(first.code, first.stderr).toBe(0);
    expect(first.json()).toMatchObject({ ok: true, migrations: [{ id, from: 'pending', state: 'expand' }] });

    const before = await ledger();
    const repeated = await run('advance', '--expect', `${id}@pending`, '--json');
    expect(repeated.code).toBe(3);
    expect(repeated.json()).toEqual({
      ok: false,
      exitCode: 3,
      error: 'expectation_failed',
      message: `refused, nothing changed: ${id} is expand, expected pending`,
      mismatches: [{ migration: id, expected: 'pending', actual: 'expand' }],
    });
    expect(await ledger()).toEqual(before);

    const next = await run('advance', '--expect', `${id}@expand`, '--json');
    expect(next.code, next.stderr).toBe(0);
    expect(next.json()).toMatchObject({ migrations: [{ id, from: 'expand', state: 'dual-write' }] });
  });

  test('every expectation is checked, and all that fail are reported together', async () => {
    const other = '0002_users_name';
    dir = planDir({ ...renamePlan(id, { table: 'users', from: 'email', to: 'email_address' }), ...renamePlan(other, { table: 'users', from: 'id', to: 'user_id' }) });
    const before = await ledger();
    const r = await run('advance', '--expect', `${id}@backfill`, '--expect', `${other}@expand`, '--json');
    expect(r.code).toBe(3);
    expect(r.json<{ mismatches: unknown[] }>().mismatches).toEqual([
      { migration: id, expected: 'backfill', actual: 'dual-write' },
      { migration: other, expected: 'expand', actual: 'pending' },
    ]);
    expect(await ledger()).toEqual(before);
    dir = planDir(renamePlan(id, { table: 'users', from: 'email', to: 'email_address' }));
  });

  test('a malformed expectation or an unknown migration is invalid input (exit 2), with a JSON error', async () => {
    const bad = await run('advance', '--expect', `${id}@sideways`, '--json');
    expect(bad.code).toBe(2);
    expect(bad.json()).toMatchObject({ ok: false, error: 'invalid_argument', message: expect.stringContaining('sideways') });
    const noAt = await run('advance', '--expect', id, '--json');
    expect(noAt.code).toBe(2);
    const unknown = await run('advance', '--expect', 'nope@pending', '--json');
    expect(unknown.code).toBe(2);
    expect(unknown.json()).toMatchObject({ error: 'migration_not_found' });
  });

  test('the API takes the same expectations, as strings or objects', async () => {
    const pgshift = new Pgshift({ databaseUrl: db.url, dir });
    try {
      await expect(pgshift.advance({ expect: [{ migration: id, state: 'expand' }] })).rejects.toBeInstanceOf(ExpectationFailedError);
      await expect(pgshift.advance({ expect: [`${id}@expand`], dryRun: true })).rejects.toMatchObject({ code: 'expectation_failed' });
      const r = await pgshift.advance({ expect: [`${id}@dual-write`], dryRun: true });
      expect(r.migrations).toMatchObject([{ id, from: 'dual-write' }]);
    } finally {
      await pgshift.close();
    }
  });
});
