import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { cli, ROOT, spawnCli } from '../support/cli.js';
import { useDatabase, type TestDatabase } from '../support/database.js';
import { planDir, renamePlan } from '../support/plans.js';
import { tempDir } from '../support/temp.js';
import { until } from '../support/wait.js';

async function setup(db: TestDatabase, table: string, rows: number) {
  await db.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, email text)`);
  await db.query(`INSERT INTO ${table} SELECT g, 'u' || g FROM generate_series(1, ${rows}) g`);
  await db.query(`ANALYZE ${table}`);
}

const batches = async (db: TestDatabase, id: string) =>
  Number(
    (
      await db.query<{ n: string }>(`SELECT coalesce(sum(batches), 0) AS n FROM pgshift.backfill_progress WHERE migration_id = $1`, [id])
    )[0]!.n,
  );

describe('pgshift wait and advance --wait, with a backfill running in another process', () => {
  const db = useDatabase();

  test('wait returns 0 once the backfill is done; advance exits 4 meanwhile, advance --wait waits and then finds nothing left to do', async () => {
    const id = '0001_users_email';
    const dir = planDir(renamePlan(id, { table: 'users', from: 'email', to: 'email_address' }));
    await setup(db, 'users', 20_000);
    const run = (...args: string[]) => cli(args, { url: db.url, dir });
    expect((await run('advance', '--to', 'dual-write')).code).toBe(0);

    const backfill = spawnCli(['advance', '--to', 'backfill', '--batch-size', '200', '--batch-delay', '20'], { url: db.url, dir });
    await until(async () => (await batches(db, id)) >= 2, 'the backfill to start');

    const busy = await run('advance', '--to', 'backfill', '--json');
    expect(busy.code).toBe(4);
    expect(busy.json()).toMatchObject({ ok: false, error: 'orchestrator_busy' });

    const [waited, advanced] = await Promise.all([
      run('wait', id, '--for', 'backfill', '--json'),
      run('advance', '--to', 'backfill', '--wait', '--json'),
    ]);
    const done = await backfill.done;
    expect(done.code, done.stderr).toBe(0);
    expect(waited.code, waited.stderr).toBe(0);
    expect(waited.json()).toMatchObject({ ok: true, migration: id, target: 'backfill', state: 'backfill' });
    expect(advanced.code, advanced.stderr).toBe(0);
    expect(advanced.json()).toEqual({ ok: true, dryRun: false, migrations: [] });
    const runs = await db.query<{ phase: string }>(
      `SELECT phase FROM pgshift.phase_runs WHERE action = 'apply' AND status = 'succeeded' ORDER BY id`,
    );
    expect(runs.map((r) => r.phase)).toEqual(['expand', 'dual-write', 'backfill']);

    // Already there: at once. Not reached within the timeout: exit 1 with a JSON error.
    expect((await run('wait', id, '--for', 'dual-write', '--json')).code).toBe(0);
    const late = await run('wait', id, '--for', 'contract', '--timeout', '0.5', '--poll', '50', '--json');
    expect(late.code).toBe(1);
    expect(late.json()).toMatchObject({ ok: false, error: 'wait_timeout', migration: id, target: 'contract', state: 'backfill' });
  });

  test('wait exits 3 when the migration is rolled back while it waits, and 2 for an unknown target or migration', async () => {
    const id = '0002_orders_ref';
    const dir = planDir(renamePlan(id, { table: 'orders', from: 'email', to: 'ref' }));
    await setup(db, 'orders', 100);
    expect((await cli(['advance', '--to', 'dual-write'], { url: db.url, dir })).code).toBe(0);

    const waiting = spawnCli(['wait', id, '--for', 'contract', '--timeout', '60', '--poll', '50', '--json'], {
      url: db.url,
      dir,
      env: { PGSHIFT_LOG_LEVEL: 'info' },
    });
    let stderr = '';
    waiting.child.stderr!.on('data', (d) => (stderr += d));
    await until(async () => stderr.includes('waiting for contract'), 'the wait to poll');
    expect((await cli(['rollback', id], { url: db.url, dir })).code).toBe(0);
    const r = await waiting.done;
    expect(r.code, r.stderr).toBe(3);
    expect(r.json()).toMatchObject({ ok: false, error: 'wait_unreachable', migration: id, target: 'contract', state: 'pending' });

    const badTarget = await cli(['wait', id, '--for', 'sideways'], { url: db.url, dir });
    expect(badTarget.code).toBe(2);
    const unknown = await cli(['wait', 'nope', '--for', 'expand', '--json'], { url: db.url, dir });
    expect(unknown.code).toBe(2);
    expect(unknown.json()).toMatchObject({ error: 'migration_not_found' });
  });

  test('two app replicas call advance({ to, wait: true }) at once: both return after the migration is there, exactly one ran it', async () => {
    const id = '0003_accounts_email';
    const dir = planDir(renamePlan(id, { table: 'accounts', from: 'email', to: 'email_address' }));
    await setup(db, 'accounts', 5_000);
    // A start-up hook as an app would write it, through the public API.
    // Outside the plan directory, which is read for plans.
    const script = path.join(tempDir('app'), 'startup.mts');
    writeFileSync(
      script,
      `import { Pgshift } from ${JSON.stringify(path.join(ROOT, 'src/index.ts'))};
const events: string[] = [];
const pgshift = new Pgshift({ databaseUrl: process.env.URL, dir: ${JSON.stringify(dir)}, backfill: { batchSize: 250 } });
try {
  const result = await pgshift.advance({ to: 'backfill', wait: { pollMs: 50, onEvent: (e) => events.push(e.kind) } });
  const [status] = await pgshift.status(${JSON.stringify(id)});
  console.log(JSON.stringify({ ran: result.migrations.flatMap((m) => m.ran.map((r) => r.phase)), stateAfter: status!.state, events }));
} finally {
  await pgshift.close();
}
`,
    );
    const replica = () =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, env: { ...process.env, URL: db.url } });
        let out = '';
        let err = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (err += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, out, err });
        });
      });
    const results = await Promise.all([replica(), replica()]);
    for (const r of results) expect(r.code, JSON.stringify(results)).toBe(0);
    const outs = results.map((r) => JSON.parse(r.out) as { ran: string[]; stateAfter: string; events: string[] });
    expect(outs.map((o) => o.stateAfter)).toEqual(['backfill', 'backfill']);
    expect(outs.map((o) => o.ran).sort((a, b) => a.length - b.length)).toEqual([[], ['expand', 'dual-write', 'backfill']]);
    // The one that ran nothing waited for the lock (it may also have found the lock free only after).
    const runs = await db.query<{ phase: string }>(
      `SELECT phase FROM pgshift.phase_runs WHERE migration_id = $1 AND action = 'apply' ORDER BY id`,
      [id],
    );
    expect(runs.map((r) => r.phase)).toEqual(['expand', 'dual-write', 'backfill']);
  });
});
