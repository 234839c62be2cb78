import { describe, expect, test } from 'vitest';
import { fleetCli, useFleet, writeTargets } from '../support/fleet.js';
import { planDir, renamePlan } from '../support/plans.js';
import { until } from '../support/wait.js';

interface EachDoc {
  ok: boolean;
  exitCode: number;
  command: string;
  migration: string | null;
  targets: { name: string; result: string; value?: Record<string, unknown>; error?: { code: string } }[];
  summary: Record<string, number>;
}

describe('pgshift fleet tune, pause, resume, verify, rollback', () => {
  const fleet = useFleet(3);

  test('each applies to every target and is reported per target', async () => {
    const id = '0001_users_email';
    const dir = planDir(renamePlan(id, { table: 'users', from: 'email', to: 'email_address' }));
    for (const db of fleet.dbs) {
      await db.query(`CREATE TABLE users (id bigint PRIMARY KEY, email text)`);
      await db.query(`INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 300) g`);
    }
    const file = writeTargets(fleet.targets);
    const run = async (...args: string[]) => {
      const r = await fleetCli(fleet, [...args, '--targets', file, '--json'], { dir });
      return { code: r.code, doc: r.json<EachDoc>(), raw: r.stdout };
    };
    expect((await run('advance', '--to', 'dual-write')).code).toBe(0);

    const paused = await run('pause');
    expect(paused.code, paused.raw).toBe(0);
    expect(paused.doc).toMatchObject({ ok: true, command: 'fleet pause', migration: id, summary: { ok: 3 } });
    expect(paused.doc.targets.every((t) => t.value?.paused === true)).toBe(true);
    const tuned = await run('tune', '--max-rate', '500');
    expect(tuned.doc).toMatchObject({ ok: true, command: 'fleet tune', summary: { ok: 3 } });
    for (const db of fleet.dbs) {
      const [row] = await db.query<{ paused: boolean; rate: string }>(
        `SELECT paused, settings->>'maxRate' AS rate FROM pgshift.backfill_control WHERE migration_id = $1`,
        [id],
      );
      expect(row).toEqual({ paused: true, rate: '500' });
    }
    expect((await run('resume')).doc.summary).toEqual({ ok: 3 });
    const nothing = await fleetCli(fleet, ['tune', '--targets', file, '--json'], { dir });
    expect(nothing.code).toBe(2);

    expect((await run('advance', '--to', 'backfill')).code).toBe(0);
    const verified = await run('verify', id);
    expect(verified.doc).toMatchObject({ ok: true, command: 'fleet verify', summary: { ok: 3 } });
    expect(verified.doc.targets.every((t) => Array.isArray(t.value) && (t.value as unknown as { passed: boolean }[])[0]!.passed)).toBe(
      true,
    );

    const rolled = await run('rollback', id);
    expect(rolled.doc).toMatchObject({ ok: true, command: 'fleet rollback', summary: { ok: 3 } });
    const status = await run('status');
    expect(status.doc.summary).toMatchObject({ byState: { [`${id}@pending`]: 3 } });
    for (const db of fleet.dbs) {
      const cols = await db.query<{ column_name: string }>(
        `SELECT column_name FROM information_schema.columns WHERE table_name = 'users' ORDER BY 1`,
      );
      expect(cols.map((c) => c.column_name)).toEqual(['email', 'id']);
    }
    expect(fleet.outputs.join('\n')).not.toContain(fleet.password);
  }, 600_000);

  test("fleet advance's backfill options reach every target's backfill (sizes, off, --reindex-after); a per-target replicaUrl reaches only its target", async () => {
    const id = '0002_orders_email';
    const dir = planDir(renamePlan(id, { table: 'orders', from: 'email', to: 'contact' }));
    for (const db of fleet.dbs) {
      await db.query(`CREATE TABLE orders (id bigint PRIMARY KEY, email text)`);
      await db.query(`INSERT INTO orders SELECT g, 'o' || g FROM generate_series(1, 400) g`);
    }
    const [a, b, c] = fleet.targets as [(typeof fleet.targets)[0], (typeof fleet.targets)[0], (typeof fleet.targets)[0]];
    // c's "standby" is its own primary, which is not in recovery: c's backfill holds on its lag
    // check, the others do not. The password comes from the environment, as in a url.
    const replicaUrl = c.url.replace(encodeURIComponent(fleet.password), '${FLEET_REPLICA_PW}');
    expect(replicaUrl).not.toBe(c.url);
    const file = writeTargets([a, b, { ...c, replicaUrl }]);
    const env = { FLEET_REPLICA_PW: fleet.password };
    const fleetRun = (...args: string[]) => fleetCli(fleet, [...args, '--targets', file, '--json'], { dir, env });
    expect((await fleetRun('advance', id, '--to', 'dual-write')).code).toBe(0);

    const options = ['--max-lag-bytes', '32MB', '--vacuum-every', 'off', '--reindex-after', '2', '--batch-delay', '5'];
    const more = ['--min-standbys', '0', '--hold-on-vacuum', 'off', '--batch-size', '100', '--waves', '100%'];
    const advancing = fleetRun('advance', id, '--to', 'backfill', ...options, ...more);
    const progress = (name: string) =>
      fleet
        .byName(name)
        .query<{ settings: Record<string, unknown>; hold_reason: string | null; finished: boolean }>(
          `SELECT settings, hold_reason, finished_at IS NOT NULL AS finished FROM pgshift.backfill_progress WHERE migration_id = $1`,
          [id],
        )
        .catch(() => []);
    const held = await until(
      async () => (await progress(c.name))[0]?.hold_reason,
      `${c.name}'s backfill to hold on its replicaUrl`,
      120_000,
    );
    expect(held).toContain('not a standby');
    await until(
      async () => (await Promise.all([a, b].map(async (t) => (await progress(t.name))[0]?.finished))).every(Boolean),
      'the targets without a replicaUrl to finish their backfill',
      120_000,
    );
    expect((await progress(c.name))[0]!.finished).toBe(false);
    // The lag checks off (live, on every target): c goes on.
    const tuned = await fleetRun('tune', id, '--max-lag', 'off', '--max-lag-bytes', 'off');
    expect(tuned.code, tuned.stdout).toBe(0);

    const done = await advancing;
    expect(done.code, done.stdout).toBe(0);
    expect(done.json<EachDoc>()).toMatchObject({ ok: true, summary: { advanced: 3 } });
    for (const t of fleet.targets) {
      const rows = await progress(t.name);
      expect(rows.length, t.name).toBe(1);
      expect(rows[0]!.settings, t.name).toMatchObject({
        maxLagBytes: 32 * 1024 * 1024,
        vacuumEvery: null,
        reindexAfter: 2,
        delayMs: 5,
        minStandbys: 0,
        holdOnVacuum: 'off',
        replicaUrl: t.name === c.name ? '(set)' : null,
      });
    }
    expect(fleet.outputs.join('\n')).not.toContain(fleet.password);

    const bad = await fleetRun('advance', id, '--max-lag-bytes', '64XB');
    expect(bad.code).toBe(2);
    expect(bad.json()).toMatchObject({
      ok: false,
      exitCode: 2,
      error: 'invalid_argument',
      message: expect.stringContaining('--max-lag-bytes'),
    });
    const badTarget = await fleetCli(fleet, ['status', '--targets', writeTargets([{ ...a, replicaUrl: 'mysql://h/x' }]), '--json'], {
      dir,
    });
    expect(badTarget.code).toBe(2);
    expect(badTarget.json()).toMatchObject({ error: 'fleet_targets_invalid', message: expect.stringContaining('[0].replicaUrl') });
  }, 600_000);
});
