import { describe, expect, test } from 'vitest';
import { inShard } from '../../src/index.js';
import { spawnCli } from '../support/cli.js';
import { closedPort, fleetCli, lockstepViolations, phaseRuns, useFleet, writeTargets } from '../support/fleet.js';
import { planDir, renamePlan } from '../support/plans.js';
import { until } from '../support/wait.js';

const PHASES = ['expand', 'dual-write', 'backfill', 'contract'];

interface AdvanceDoc {
  ok: boolean;
  exitCode: number;
  command: string;
  migration: string | null;
  phase: string | null;
  waves: { index: number; phase: string; targets: string[]; result: string }[];
  targets: {
    name: string;
    url: string;
    from: string | null;
    to: string | null;
    result: string;
    seconds: number;
    error?: { code: string; message: string };
  }[];
  summary: Record<string, number>;
  laggards?: { name: string; state: string }[];
}

// Sixteen databases and several fleet runs: minutes on a loaded 2-core machine. Slow is not a failure here.
const FLEET_TEST_TIMEOUT = 600_000;

describe('pgshift fleet over 16 databases', () => {
  const fleet = useFleet(16);

  async function table(name: string, rows: number) {
    await Promise.all(
      fleet.dbs.map(async (db) => {
        await db.query(`CREATE TABLE ${name} (id bigint PRIMARY KEY, email text)`);
        await db.query(`INSERT INTO ${name} SELECT g, 'u' || g || '@example.com' FROM generate_series(1, ${rows}) g`);
        await db.query(`ANALYZE ${name}`);
      }),
    );
  }

  test(
    'advance --to contract at concurrency 4: every phase in lockstep (from the ledgers), canary first; status summarises',
    async () => {
      const id = '0001_users_email';
      const dir = planDir(renamePlan(id, { table: 'users', from: 'email', to: 'email_address' }));
      await table('users', 500);
      const file = writeTargets(fleet.targets);
      const r = await fleetCli(
        fleet,
        ['advance', '--targets', file, '--to', 'contract', '--concurrency', '4', '--batch-size', '100', '--json'],
        { dir },
      );
      expect(r.code, r.stderr + r.stdout).toBe(0);
      const doc = r.json<AdvanceDoc>();
      expect(doc).toMatchObject({
        ok: true,
        exitCode: 0,
        command: 'fleet advance',
        migration: id,
        phase: 'contract',
        summary: { advanced: 16 },
      });
      expect(doc.targets.map((t) => [t.name, t.from, t.to, t.result])).toEqual(
        fleet.targets.map((t) => [t.name, 'pending', 'contract', 'advanced']),
      );
      // Default waves: one canary, then the other 15, in every phase.
      expect(doc.waves.map((w) => [w.phase, w.targets.length, w.result])).toEqual(
        PHASES.flatMap((p) => [
          [p, 1, 'succeeded'],
          [p, 15, 'succeeded'],
        ]),
      );

      const runs = await phaseRuns(fleet.dbs, id);
      expect(runs.filter((x) => x.status === 'succeeded')).toHaveLength(16 * 4);
      expect(lockstepViolations(runs, PHASES)).toEqual([]);
      for (const phase of PHASES) {
        const canary = doc.waves.find((w) => w.phase === phase && w.index === 0)!.targets[0]!;
        const canaryDone = runs.find((x) => x.db === canary && x.phase === phase)!.finished_at!;
        const rest = runs.filter((x) => x.phase === phase && x.db !== canary);
        expect(
          rest.filter((x) => +x.started_at < +canaryDone),
          `${phase} started before its canary finished`,
        ).toEqual([]);
      }
      for (const db of fleet.dbs) {
        const [row] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM users WHERE email_address = 'u' || id || '@example.com'`);
        expect(Number(row!.n)).toBe(500);
      }

      const status = await fleetCli(fleet, ['status', '--targets', file, '--json'], { dir });
      expect(status.code, status.stderr).toBe(0);
      expect(status.json()).toMatchObject({ ok: true, command: 'fleet status', summary: { byState: { [`${id}@contract`]: 16 } } });

      const again = await fleetCli(fleet, ['advance', '--targets', file, '--json'], { dir });
      expect(again.code).toBe(0);
      expect(again.json<AdvanceDoc>().summary).toEqual({ 'up-to-date': 16 });
    },
    FLEET_TEST_TIMEOUT,
  );

  test(
    '--shard i/3 splits the fleet exactly once; lockstep holds across shards (refused, naming the laggards); fleet wait joins',
    async () => {
      const id = '0002_orders_email';
      const dir = planDir(renamePlan(id, { table: 'orders', from: 'email', to: 'contact' }));
      await table('orders', 50);
      const file = writeTargets({ targets: fleet.targets });
      const seen: string[] = [];

      const first = await fleetCli(fleet, ['advance', id, '--targets', file, '--shard', '1/3', '--json'], { dir });
      expect(first.code, first.stdout).toBe(0);
      const shard1 = first.json<AdvanceDoc>().targets.map((t) => t.name);
      seen.push(...shard1);
      expect(shard1).toEqual(inShard(fleet.targets, { index: 1, count: 3 }).map((t) => t.name));

      // Shard 1 is at expand; its dual-write must wait for shards 2 and 3 to finish expand.
      const early = await fleetCli(fleet, ['advance', id, '--targets', file, '--shard', '1/3', '--json'], { dir });
      expect(early.code).toBe(3);
      const refused = early.json<AdvanceDoc>();
      expect(refused).toMatchObject({ ok: false, exitCode: 3, error: 'fleet_lockstep' });
      expect(refused.laggards!.map((l) => l.name).sort()).toEqual(
        fleet.targets
          .map((t) => t.name)
          .filter((n) => !shard1.includes(n))
          .sort(),
      );
      expect(new Set(refused.targets.map((t) => t.result))).toEqual(new Set(['refused']));

      const waiting = await fleetCli(fleet, ['wait', id, '--for', 'expand', '--targets', file, '--timeout', '0.3', '--json'], { dir });
      expect(waiting.code).toBe(1);
      expect(waiting.json()).toMatchObject({
        ok: false,
        command: 'fleet wait',
        summary: { reached: shard1.length, timeout: 16 - shard1.length },
      });

      for (const shard of ['2/3', '3/3']) {
        const r = await fleetCli(fleet, ['advance', id, '--targets', file, '--shard', shard, '--json'], { dir });
        expect(r.code, r.stdout).toBe(0);
        seen.push(...r.json<AdvanceDoc>().targets.map((t) => t.name));
      }
      expect(seen.sort()).toEqual(fleet.targets.map((t) => t.name).sort());
      const runs = await phaseRuns(fleet.dbs, id);
      expect(runs.map((x) => `${x.db}:${x.phase}:${x.status}`).sort()).toEqual(
        fleet.targets.map((t) => `${t.name}:expand:succeeded`).sort(),
      );

      const joined = await fleetCli(fleet, ['wait', id, '--for', 'expand', '--targets', file, '--json'], { dir });
      expect(joined.code, joined.stdout).toBe(0);
      expect(joined.json()).toMatchObject({ ok: true, summary: { reached: 16 } });
    },
    FLEET_TEST_TIMEOUT,
  );

  test(
    'SIGKILL of the fleet process mid-backfill: the next fleet advance resumes every target and converges',
    async () => {
      const id = '0003_people_email';
      const dir = planDir(renamePlan(id, { table: 'people', from: 'email', to: 'mail' }));
      await table('people', 3000);
      const file = writeTargets(fleet.targets);
      expect(
        (await fleetCli(fleet, ['advance', id, '--targets', file, '--to', 'dual-write', '--waves', '100%', '--json'], { dir })).code,
      ).toBe(0);

      const child = spawnCli(
        ['fleet', 'advance', id, '--targets', file, '--to', 'backfill', '--waves', '100%', '--batch-size', '50', '--batch-delay', '20'],
        { url: 'postgres://unused@127.0.0.1:1/x', dir },
      );
      const started = async () => {
        let n = 0;
        for (const db of fleet.dbs) {
          const [row] = await db
            .query<{ n: string }>(`SELECT coalesce(sum(batches), 0) AS n FROM pgshift.backfill_progress WHERE migration_id = $1`, [id])
            .catch(() => [{ n: '0' }]);
          if (Number(row!.n) >= 2) n++;
        }
        return n >= 2;
      };
      await until(started, 'backfills on two targets to be under way');
      child.child.kill('SIGKILL');
      const killed = await child.done;
      fleet.outputs.push(killed.stdout, killed.stderr);
      expect(killed.code).toBe(128);

      const r = await fleetCli(fleet, ['advance', id, '--targets', file, '--to', 'contract', '--json'], { dir });
      expect(r.code, r.stdout).toBe(0);
      expect(r.json<AdvanceDoc>()).toMatchObject({ ok: true, phase: 'contract' });
      const runs = await phaseRuns(fleet.dbs, id);
      expect(runs.filter((x) => x.phase === 'backfill' && x.status === 'interrupted').length).toBeGreaterThanOrEqual(2);
      expect(lockstepViolations(runs, PHASES)).toEqual([]);
      for (const db of fleet.dbs) {
        const [row] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM people WHERE mail = 'u' || id || '@example.com'`);
        expect(Number(row!.n), db.target).toBe(3000);
      }
    },
    FLEET_TEST_TIMEOUT,
  );

  test(
    'an unreachable target is reported and not fatal under continue; under halt nothing starts; bad targets files exit 2',
    async () => {
      const id = '0004_things_email';
      const dir = planDir(renamePlan(id, { table: 'things', from: 'email', to: 'mail' }));
      await table('things', 10);
      const port = await closedPort();
      const down = { name: 'gone', url: `postgres://app:gone-secret-pw@127.0.0.1:${port}/gone` };
      const file = writeTargets([...fleet.targets.slice(0, 4), down]);

      const halted = await fleetCli(fleet, ['advance', id, '--targets', file, '--json'], { dir });
      expect(halted.code).toBe(1);
      const h = halted.json<AdvanceDoc>();
      expect(h.targets.find((t) => t.name === 'gone')).toMatchObject({
        result: 'unreachable',
        url: `postgres://app@127.0.0.1:${port}/gone`,
      });
      expect(h.summary).toEqual({ 'not-started': 4, unreachable: 1 });

      const r = await fleetCli(fleet, ['advance', id, '--targets', file, '--on-failure', 'continue', '--json'], { dir });
      expect(r.code).toBe(1);
      const doc = r.json<AdvanceDoc>();
      expect(doc.summary).toEqual({ advanced: 4, unreachable: 1 });
      expect(doc.targets.find((t) => t.name === 'gone')!.error!.code).toBe('unreachable');
      const status = await fleetCli(fleet, ['status', id, '--targets', file, '--json'], { dir });
      expect(status.code).toBe(1);
      expect(status.json()).toMatchObject({ ok: false, summary: { byState: { [`${id}@expand`]: 4 }, unreachable: 1 } });

      for (const [content, problem] of [
        [
          [
            { name: 'a', url: fleet.targets[0]!.url },
            { name: 'a', url: fleet.targets[1]!.url },
          ],
          'names must be unique',
        ],
        [[{ name: 'a', url: 'postgres://u:${FLEET_TEST_UNSET_VAR}@h/db' }], 'FLEET_TEST_UNSET_VAR is not set'],
        ['{ not: [json', 'not JSON or YAML'],
      ] as const) {
        const bad = await fleetCli(fleet, ['status', '--targets', writeTargets(content), '--json'], { dir });
        expect(bad.code).toBe(2);
        expect(bad.json()).toMatchObject({ ok: false, exitCode: 2, error: 'fleet_targets_invalid' });
        expect(bad.json<{ message: string }>().message).toContain(problem);
      }
    },
    FLEET_TEST_TIMEOUT,
  );

  test(
    'targets from YAML with ${VAR} and from --targets-command; no output ever holds a password',
    async () => {
      const yaml = `targets:\n${fleet.targets
        .slice(0, 3)
        .map((t) => `  - name: ${t.name}\n    url: "${t.url.replace(encodeURIComponent(fleet.password), '${FLEET_TEST_PW}')}"`)
        .join('\n')}\n`;
      const env = { FLEET_TEST_PW: fleet.password };
      const dir = planDir(renamePlan('0001_users_email', { table: 'users', from: 'email', to: 'email_address' }));
      const fromYaml = await fleetCli(fleet, ['status', '--targets', writeTargets(yaml, 'yaml'), '--json'], { dir, env });
      expect(fromYaml.code, fromYaml.stdout).toBe(0);
      expect(fromYaml.json<{ targets: { name: string }[] }>().targets.map((t) => t.name)).toEqual(
        fleet.targets.slice(0, 3).map((t) => t.name),
      );

      const json = writeTargets(fleet.targets.slice(0, 2));
      const fromCommand = await fleetCli(fleet, ['status', '--targets-command', `cat '${json}'`], { dir });
      expect(fromCommand.code, fromCommand.stderr).toBe(0);
      expect(fromCommand.stdout).toContain('shard-01');

      const all = fleet.outputs.join('\n');
      expect(all.length).toBeGreaterThan(1000);
      expect(all).not.toContain(fleet.password);
      expect(all).not.toContain('gone-secret-pw');
    },
    FLEET_TEST_TIMEOUT,
  );
});
