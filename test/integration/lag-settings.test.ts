import { beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { cli } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { planDir, renamePlan } from '../support/plans.js';
import { until } from '../support/wait.js';

describe('the byte-lag setting and the standby requirements, without a standby', () => {
  const db = useDatabase();
  const id = '20261204_lag_settings';
  let dir: string;

  beforeAll(async () => {
    dir = planDir(renamePlan(id, { table: 'orders', from: 'ref', to: 'reference' }));
    await db.query(`CREATE TABLE orders (id bigint PRIMARY KEY, ref text NOT NULL)`);
    await db.query(`INSERT INTO orders SELECT g, 'r' || g FROM generate_series(1, 2000) g`);
    expect((await cli(['advance', '--to', 'dual-write'], { url: db.url, dir })).code).toBe(0);
  });

  test('with no standby attached at the start, the default requires none; the run records --max-lag-bytes; tune changes it live and status shows both', async () => {
    const [attached] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_replication`);
    // The embedded server and CI's plain pass have no standby; with one attached this test proves nothing.
    expect(attached!.n).toBe(0);
    const run = await cli(['advance', '--max-lag-bytes', '1MB', '--batch-size', '500', '--json'], { url: db.url, dir });
    expect(run.code, run.stderr).toBe(0);

    const tuned = await cli(['tune', id, '--max-lag-bytes', '32MB', '--json'], { url: db.url, dir });
    expect(tuned.code, tuned.stderr).toBe(0);
    expect(tuned.json()).toMatchObject({ settings: { maxLagBytes: 32 * 1024 * 1024 } });

    const status = await cli(['status', id, '--json'], { url: db.url, dir });
    expect(status.json()).toMatchObject({
      migrations: [
        {
          state: 'backfill',
          backfillSummary: {
            finished: true,
            settings: { maxLagBytes: 1024 * 1024, requireStandbys: [], minStandbys: null },
            control: { settings: { maxLagBytes: 32 * 1024 * 1024 } },
          },
        },
      ],
    });
    expect((await cli(['tune', id, '--max-lag-bytes', 'off', '--json'], { url: db.url, dir })).json()).toMatchObject({ settings: { maxLagBytes: null } });
  });

  test('--require-standby that is not attached holds before the first batch, naming it; status --json says why', async () => {
    await db.query(`CREATE TABLE items (id bigint PRIMARY KEY, ref text NOT NULL)`);
    await db.query(`INSERT INTO items SELECT g, 'r' || g FROM generate_series(1, 500) g`);
    const id2 = '20261204_lag_settings_b';
    const dir2 = planDir({ ...renamePlan(id, { table: 'orders', from: 'ref', to: 'reference' }), ...renamePlan(id2, { table: 'items', from: 'ref', to: 'reference' }) });
    expect((await cli(['advance', id2, '--to', 'dual-write'], { url: db.url, dir: dir2 })).code).toBe(0);
    const stop = new AbortController();
    let out = '';
    const running = runCli(['--database-url', db.url, '--dir', dir2, '--log-level', 'silent', 'advance', id2, '--require-standby', 'replica_east', '--json'], {
      stdout: (t) => (out += t),
      stderr: () => undefined,
      env: {},
      signal: stop.signal,
    });
    const held = await until(
      async () => (await db.query<{ hold_reason: string | null; rows_done: string }>(`SELECT hold_reason, rows_done FROM pgshift.backfill_progress WHERE migration_id = $1`, [id2]))[0]?.hold_reason,
      'the hold',
    );
    expect(held).toBe('required standby "replica_east" not attached to the primary (pg_stat_replication has none; --require-standby)');
    const status = await cli(['status', id2, '--json'], { url: db.url, dir: dir2 });
    expect(status.json()).toMatchObject({ migrations: [{ backfillSummary: { holdReason: held, rowsDone: 0 } }] });
    stop.abort();
    expect(await running).not.toBe(0);
    expect(out).not.toBe('');
  });
});
