import { describe, expect, test } from 'vitest';
import { Pgshift, type ProgressEvent } from '../../src/index.js';
import { cli, spawnCli } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { planDir } from '../support/plans.js';
import { until } from '../support/wait.js';

const ROWS = 7_000;

describe('progress counts the rows the backfill touches', () => {
  const db = useDatabase();

  test('setNotNull: the estimate is the NULL rows, not the table, so percent and ETA follow the real work', async () => {
    await db.query(`CREATE TABLE accounts (id bigint PRIMARY KEY, plan text)`);
    await db.query(`INSERT INTO accounts SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'free' END FROM generate_series(1, ${ROWS}) g`);
    await db.query(`ANALYZE accounts`);
    const [{ n: nulls }] = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM accounts WHERE plan IS NULL`)) as [{ n: number }];
    const id = '0001_accounts_plan_not_null';
    const events: ProgressEvent[] = [];
    const pgshift = new Pgshift({
      databaseUrl: db.url,
      migrations: [{ id, operations: [{ kind: 'setNotNull', schema: 'public', table: 'accounts', column: 'plan', fill: `'free'` }] }],
      backfill: { batchSize: 500 },
      onProgress: (e) => events.push(e),
    });
    try {
      await pgshift.advance({ to: 'backfill' });
      const backfill = events.filter((e) => e.kind === 'backfill');
      expect(backfill.length).toBeGreaterThan(1);
      expect(new Set(backfill.map((e) => e.rowEstimate))).toEqual(new Set([nulls]));
      expect(backfill.at(-1)).toMatchObject({ finished: true, rowsDone: nulls });
      const [status] = await pgshift.status(id);
      expect(status!.backfillSummary).toMatchObject({ rowsDone: nulls, rowEstimate: nulls, percent: 100 });
    } finally {
      await pgshift.close();
    }
  });
});

describe('pause, tune and resume around a running backfill', () => {
  const db = useDatabase();

  test('a paused backfill shows held without an ETA; a tune while paused leaves the pause its author; history lists each control action', async () => {
    const id = '0001_orders_ref';
    const dir = planDir({ [`${id}.json`]: { id, operations: [{ kind: 'renameColumn', table: 'orders', from: 'ref', to: 'reference' }] } });
    await db.query(`CREATE TABLE orders (id bigint PRIMARY KEY, ref text NOT NULL)`);
    await db.query(`INSERT INTO orders SELECT g, 'r' || g FROM generate_series(1, 20000) g`);
    const run = (...args: string[]) => cli(args, { url: db.url, dir });
    expect((await run('advance', '--to', 'dual-write')).code).toBe(0);
    expect((await run('pause', id)).code).toBe(0);
    expect((await run('tune', id, '--batch-size', '300')).code).toBe(0);

    const backfill = spawnCli(['advance', '--to', 'backfill', '--batch-size', '200'], { url: db.url, dir });
    const held = await until(async () => {
      const s = (await run('status', id, '--json')).json<{
        migrations: { backfillSummary: { holdReason: string | null; etaSeconds: number | null } | null }[];
      }>();
      return s.migrations[0]!.backfillSummary?.holdReason ? s.migrations[0]!.backfillSummary : null;
    }, 'the backfill to hold');
    expect(held.holdReason).toMatch(/^paused by `pgshift pause` \(pgshift pause /);
    expect(held.etaSeconds).toBeNull();
    const text = (await run('status', id)).stdout;
    expect(text).toContain('HELD: paused by `pgshift pause`');
    expect(text).not.toMatch(/ETA \d/);

    expect((await run('resume', id)).code).toBe(0);
    const done = await backfill.done;
    expect(done.code, done.stderr).toBe(0);

    const history = (await run('history', id, '--json')).json<{
      runs: { action: string; status: string; details: Record<string, unknown> }[];
    }>();
    const control = history.runs.filter((r) => ['tune', 'pause', 'resume'].includes(r.action));
    expect(control.map((r) => r.action)).toEqual(['pause', 'tune', 'resume']);
    expect(control[1]!.details).toMatchObject({ settings: { batchSize: 300 } });
    const table = (await run('history', id)).stdout;
    expect(table).toMatch(/tune\s+backfill\s+succeeded\s.*batchSize=300/);
  });
});
