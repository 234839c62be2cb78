import pg from 'pg';
import { describe, expect, test } from 'vitest';
import { fleetCli, phaseRuns, useFleet, writeTargets } from '../support/fleet.js';
import { planDir, renamePlan } from '../support/plans.js';

interface AdvanceDoc {
  ok: boolean;
  exitCode: number;
  phase: string | null;
  waves: { index: number; phase: string; targets: string[]; result: string }[];
  targets: { name: string; from: string | null; to: string | null; result: string; error?: { code: string; message: string } }[];
  summary: Record<string, number>;
}

/** Holds row locks on the table's first rows in an open transaction until released: a batch over them waits. */
async function holdLock(url: string, table: string): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  await client.query('BEGIN');
  await client.query(`SELECT id FROM ${table} WHERE id <= 300 FOR UPDATE`);
  return async () => {
    await client.query('ROLLBACK');
    await client.end();
  };
}

// Sixteen databases and several fleet runs: minutes on a loaded 2-core machine. Slow is not a failure here.
const FLEET_TEST_TIMEOUT = 600_000;

describe('pgshift fleet: one target failing mid-backfill (a held lock)', () => {
  const fleet = useFleet(16);
  const id = '0001_accounts_email';

  test(
    'halt stops the others after their batch and starts nothing new; continue finishes the rest; after the fix the fleet converges',
    async () => {
      const dir = planDir(renamePlan(id, { table: 'accounts', from: 'email', to: 'email_address' }));
      await Promise.all(
        fleet.dbs.map(async (db) => {
          await db.query(`CREATE TABLE accounts (id bigint PRIMARY KEY, email text)`);
          await db.query(`INSERT INTO accounts SELECT g, 'a' || g FROM generate_series(1, 1000) g`);
          await db.query('ANALYZE accounts');
        }),
      );
      const file = writeTargets(fleet.targets);
      const up = await fleetCli(fleet, ['advance', id, '--targets', file, '--to', 'dual-write', '--waves', '100%', '--json'], { dir });
      expect(up.code, up.stdout).toBe(0);

      // shard-00's first batch waits on the locked rows until its statement_timeout, once: its backfill fails.
      const broken = fleet.targets[0]!.name;
      const release = await holdLock(fleet.dbs[0]!.url, 'accounts');
      // Slow backfills elsewhere (50 batches, 30 ms apart), so that they are mid-run when shard-00 fails.
      const slow = ['--batch-size', '20', '--batch-delay', '30', '--batch-timeout', '500', '--max-attempts', '1', '--concurrency', '4'];
      try {
        const halted = await fleetCli(fleet, ['advance', id, '--targets', file, '--waves', '100%', ...slow, '--json'], { dir });
        expect(halted.code, halted.stdout).toBe(1);
        const h = halted.json<AdvanceDoc>();
        const byName = new Map(h.targets.map((t) => [t.name, t]));
        expect(byName.get(broken)).toMatchObject({ result: 'failed', to: 'dual-write', error: { code: 'backfill_batch_failed' } });
        const stopped = h.targets.filter((t) => t.error?.code === 'interrupted');
        const notStarted = h.targets.filter((t) => t.result === 'not-started');
        // Nothing else failed on its own, and nothing started once shard-00 had failed.
        expect(
          h.targets.filter(
            (t) =>
              t.name !== broken && !['interrupted'].includes(t.error?.code ?? '') && t.result !== 'not-started' && t.result !== 'advanced',
          ),
        ).toEqual([]);
        expect(notStarted.length).toBeGreaterThan(0);
        expect(stopped.every((t) => t.result === 'failed' && t.to === 'dual-write')).toBe(true);
        const runs = await phaseRuns(fleet.dbs, id);
        const failedAt = runs.find((r) => r.db === broken && r.phase === 'backfill')!;
        expect(failedAt.status).toBe('failed');
        const lateStarts = runs.filter((r) => r.phase === 'backfill' && r.db !== broken && +r.started_at > +failedAt.finished_at!);
        expect(lateStarts).toEqual([]);
        for (const t of notStarted) expect(runs.filter((r) => r.db === t.name && r.phase === 'backfill')).toEqual([]);
        // A stopped target's backfill ended interrupted, or, when the halt reached it between its start and
        // its backfill's first ledger write, never began: either way nothing of it runs on.
        for (const t of stopped)
          expect([[], ['interrupted']]).toContainEqual(runs.filter((r) => r.db === t.name && r.phase === 'backfill').map((r) => r.status));

        const continued = await fleetCli(
          fleet,
          [
            'advance',
            id,
            '--targets',
            file,
            '--waves',
            '100%',
            '--on-failure',
            'continue',
            '--batch-size',
            '500',
            '--batch-timeout',
            '500',
            '--max-attempts',
            '1',
            '--json',
          ],
          { dir },
        );
        expect(continued.code, continued.stdout).toBe(1);
        const c = continued.json<AdvanceDoc>();
        expect(c.targets.find((t) => t.name === broken)).toMatchObject({ result: 'failed', to: 'dual-write' });
        expect(c.summary.failed).toBe(1);
        expect((c.summary.advanced ?? 0) + (c.summary['up-to-date'] ?? 0)).toBe(15);
        expect(c.phase).toBe('dual-write');

        // Lockstep: with shard-00 still at dual-write, contract may start nowhere.
        const early = await fleetCli(fleet, ['advance', id, '--targets', file, '--to', 'contract', '--json'], { dir });
        expect(early.code).toBe(1);
        const e = early.json<AdvanceDoc>();
        expect(e.targets.find((t) => t.name === broken)!.result).toBe('failed');
        expect(e.targets.filter((t) => t.to === 'contract')).toEqual([]);
      } finally {
        await release();
      }

      const fixed = await fleetCli(fleet, ['advance', id, '--targets', file, '--to', 'contract', '--json'], { dir });
      expect(fixed.code, fixed.stdout).toBe(0);
      expect(fixed.json<AdvanceDoc>()).toMatchObject({ ok: true, phase: 'contract' });
      for (const db of fleet.dbs) {
        const [row] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM accounts WHERE email_address = 'a' || id`);
        expect(Number(row!.n)).toBe(1000);
      }
    },
    FLEET_TEST_TIMEOUT,
  );
});
