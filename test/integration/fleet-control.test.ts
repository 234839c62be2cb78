import { describe, expect, test } from 'vitest';
import { fleetCli, useFleet, writeTargets } from '../support/fleet.js';
import { planDir, renamePlan } from '../support/plans.js';

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
});
