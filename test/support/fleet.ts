import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { cli, type CliResult } from './cli.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { tempDir } from './temp.js';

export interface Fleet {
  dbs: (TestDatabase & { drop(): Promise<void>; target: string })[];
  /** The targets as written to the file: URLs with a password in them. */
  targets: { name: string; url: string }[];
  password: string;
  /** Every stdout and stderr a fleet command printed, for the redaction check. */
  outputs: string[];
  byName(name: string): TestDatabase;
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: inject('adminUrl') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * `size` fresh databases on the test server, named shard-00…, dropped after the file. The targets
 * connect as a role of their own whose password is a random marker, so that a password anywhere
 * in the output is found (on a trust-auth server the password is ignored, and still in the URL).
 */
export function useFleet(size: number): Fleet {
  const fleet: Fleet = { dbs: [], targets: [], password: '', outputs: [], byName: (n) => fleet.dbs.find((d) => d.target === n)! };
  const role = `fleet_${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    fleet.password = `Pw-${randomBytes(9).toString('hex')}`;
    await admin(`CREATE ROLE ${role} LOGIN SUPERUSER PASSWORD '${fleet.password}'`);
    for (let i = 0; i < size; i++) {
      const db = await createTestDatabase();
      fleet.dbs.push(Object.assign(db, { target: `shard-${String(i).padStart(2, '0')}` }));
    }
    fleet.targets = fleet.dbs.map((db) => {
      const u = new URL(db.url);
      u.username = role;
      u.password = fleet.password;
      return { name: db.target, url: u.toString() };
    });
  }, 300_000);
  afterAll(async () => {
    await Promise.all(fleet.dbs.map((db) => db.drop()));
    await admin(`DROP ROLE IF EXISTS ${role}`);
  }, 300_000);
  return fleet;
}

export function writeTargets(targets: unknown, ext = 'json'): string {
  const dir = tempDir('fleet');
  const file = path.join(dir, `targets.${ext}`);
  writeFileSync(file, typeof targets === 'string' ? targets : JSON.stringify(targets, null, 2));
  return file;
}

/** Runs `pgshift fleet …` in-process, keeping its output for the redaction check. */
export async function fleetCli(fleet: Fleet, args: string[], options: { dir?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  // --database-url is a global option the fleet ignores; the support helper always passes one.
  const r = await cli(['fleet', ...args], { url: 'postgres://unused@127.0.0.1:1/unused', dir: options.dir, env: options.env });
  fleet.outputs.push(r.stdout, r.stderr);
  return r;
}

/** A loopback port with nothing listening: a target there is unreachable. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Apply runs of each phase on each database, from its ledger (server clock: one server, one clock). */
export async function phaseRuns(dbs: readonly TestDatabase[], migration: string) {
  const rows = await Promise.all(
    dbs.map(async (db) =>
      (
        await db.query<{ phase: string; status: string; started_at: Date; finished_at: Date | null }>(
          `SELECT phase, status, started_at, finished_at FROM pgshift.phase_runs WHERE migration_id = $1 AND action = 'apply' ORDER BY id`,
          [migration],
        )
      ).map((r) => ({ ...r, db: (db as { target?: string }).target ?? db.name })),
    ),
  );
  return rows.flat();
}

/**
 * Lockstep, from the ledgers: for each pair of consecutive phases, every run of the later one
 * started after the last success of the earlier one finished, on every database.
 */
export function lockstepViolations(runs: Awaited<ReturnType<typeof phaseRuns>>, phases: readonly string[]): string[] {
  const problems: string[] = [];
  for (let i = 1; i < phases.length; i++) {
    const done = runs.filter((r) => r.phase === phases[i - 1] && r.status === 'succeeded');
    const later = runs.filter((r) => r.phase === phases[i]);
    if (!done.length || !later.length) continue;
    const lastDone = done.reduce((a, b) => (+b.finished_at! > +a.finished_at! ? b : a));
    for (const r of later)
      if (+r.started_at < +lastDone.finished_at!)
        problems.push(
          `${r.db} started ${phases[i]} at ${r.started_at.toISOString()} before ${lastDone.db} finished ${phases[i - 1]} at ${lastDone.finished_at!.toISOString()}`,
        );
  }
  return problems;
}

export type { CliResult };
