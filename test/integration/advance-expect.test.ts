import { beforeAll, describe, expect, test } from 'vitest';
import { ExpectationFailedError, Pgshift } from '../../src/index.js';
import { cli, spawnCli } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { planDir, renamePlan } from '../support/plans.js';
import { until } from '../support/wait.js';

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
    dir = planDir({
      ...renamePlan(id, { table: 'users', from: 'email', to: 'email_address' }),
      ...renamePlan(other, { table: 'users', from: 'id', to: 'user_id' }),
    });
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

  test('with a backfill running in another process: --expect waits with --wait and is checked after, so a stale deploy is refused and the right one proceeds', async () => {
    const bid = '0003_orders_ref';
    const bdir = planDir(renamePlan(bid, { table: 'orders', from: 'ref', to: 'reference' }));
    await db.query(`CREATE TABLE orders (id bigint PRIMARY KEY, ref text)`);
    await db.query(`INSERT INTO orders SELECT g, 'r' || g FROM generate_series(1, 20000) g`);
    const go = (...args: string[]) => cli([...args, '--json'], { url: db.url, dir: bdir });
    expect((await go('advance', bid, '--expect', `${bid}@pending`, '--to', 'dual-write')).code).toBe(0);

    const backfill = spawnCli(['advance', bid, '--expect', `${bid}@dual-write`, '--batch-size', '200', '--batch-delay', '20', '--json'], {
      url: db.url,
      dir: bdir,
    });
    await until(
      async () =>
        (
          await db.query<{ n: number }>(
            `SELECT coalesce(sum(batches), 0)::int AS n FROM pgshift.backfill_progress WHERE migration_id = $1`,
            [bid],
          )
        )[0]!.n >= 2,
      'the backfill to run two batches',
    );
    // Without --wait: busy, whatever it expects.
    const busy = await go('advance', bid, '--expect', `${bid}@backfill`);
    expect(busy.code).toBe(4);
    expect(busy.json()).toMatchObject({ error: 'orchestrator_busy' });

    // The pipeline's gate, the deploy that is one step behind, and the next deploy: each its own process.
    const gate = spawnCli(['wait', bid, '--for', 'backfill', '--poll', '50', '--json'], { url: db.url, dir: bdir });
    const stale = spawnCli(['advance', bid, '--expect', `${bid}@dual-write`, '--wait', '--json'], { url: db.url, dir: bdir });
    const next = spawnCli(['advance', bid, '--expect', `${bid}@backfill`, '--wait', '--json'], { url: db.url, dir: bdir });
    const [b, g, s, n] = await Promise.all([backfill.done, gate.done, stale.done, next.done]);
    expect(b.code, b.stderr).toBe(0);
    expect(b.json()).toMatchObject({ migrations: [{ id: bid, from: 'dual-write', state: 'backfill' }] });
    expect(g.code, g.stderr).toBe(0);
    expect(g.json()).toMatchObject({ ok: true, migration: bid, target: 'backfill' });
    // The stale deploy waited for the lock, then found the migration past dual-write: refused, nothing run by it.
    expect(s.code, s.stderr).toBe(3);
    expect(s.json()).toMatchObject({ ok: false, error: 'expectation_failed', mismatches: [{ migration: bid, expected: 'dual-write' }] });
    expect(['backfill', 'contract']).toContain(s.json<{ mismatches: { actual: string }[] }>().mismatches[0]!.actual);
    expect(n.code, n.stderr).toBe(0);
    expect(n.json()).toMatchObject({ ok: true, migrations: [{ id: bid, from: 'backfill', state: 'contract', complete: true }] });
    // Expand, dual-write, backfill, (verify,) contract: the refused deploy recorded no run.
    const runs = await db.query<{ action: string; phase: string; status: string }>(
      `SELECT action, phase, status FROM pgshift.phase_runs WHERE migration_id = $1 ORDER BY id`,
      [bid],
    );
    expect(runs.filter((r) => r.status !== 'succeeded')).toEqual([]);
    expect(runs.filter((r) => r.action === 'apply').map((r) => r.phase)).toEqual(['expand', 'dual-write', 'backfill', 'contract']);
  }, 600_000);
});
