import { expect } from 'vitest';
import { cli, type CliResult } from '../support/cli.js';
import type { TestDatabase } from '../support/database.js';
import { planDir, renamePlan } from '../support/plans.js';
import { installTrace, TABLE_DIGEST_SQL, type Standby } from '../support/standby.js';
import { until } from '../support/wait.js';

export const ROWS = 30_000;

/** A table with a rename migration advanced to dual-write, the trace installed, the standby caught up. */
export async function prepare(db: TestDatabase, standby: Standby, id: string): Promise<string> {
  const dir = planDir(renamePlan(id, { table: 'orders', from: 'ref', to: 'reference' }));
  await db.query(`CREATE TABLE orders (id bigint PRIMARY KEY, ref text NOT NULL, note text)`);
  await db.query(`INSERT INTO orders SELECT g, 'r' || g, repeat('x', 40) FROM generate_series(1, ${ROWS}) g`);
  await db.query(`ANALYZE orders`);
  const r = await cli(['advance', '--to', 'dual-write'], { url: db.url, dir });
  expect(r.code, r.stderr).toBe(0);
  await installTrace(db.pool);
  await standby.waitCaughtUp(db.pool);
  return dir;
}

export async function progress(db: TestDatabase, id: string) {
  const [row] = await db.query<{ rows_done: string; batches: string; hold_reason: string | null; finished_at: Date | null }>(
    `SELECT rows_done, batches, hold_reason, finished_at FROM pgshift.backfill_progress WHERE migration_id = $1`,
    [id],
  );
  return row;
}

/** How many times the backfill's control table was read so far (what the engine does at each hold check). */
async function controlScans(db: TestDatabase): Promise<number> {
  const [row] = await db.query<{ n: string }>(
    `SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) AS n FROM pg_stat_user_tables WHERE schemaname = 'pgshift' AND relname = 'backfill_control'`,
  );
  return Number(row?.n ?? 0);
}

/**
 * Waits for a hold whose reason matches; checks that no batch runs while it holds and that status
 * --json says why. A hold for another reason on the way (the engine re-checks every second and
 * the standby passes through intermediate states) is waited past, not taken for the one expected;
 * one that never turns into it fails, naming the last reason seen.
 */
export async function expectHeld(db: TestDatabase, dir: string, id: string, reason: RegExp): Promise<string> {
  let seen: string | null = null;
  const held = await until(
    async () => {
      const p = await progress(db, id);
      seen = p?.hold_reason ?? seen;
      return p?.hold_reason && reason.test(p.hold_reason) ? p : null;
    },
    `a hold matching ${reason}`,
    120_000,
  ).catch((error: Error) => {
    throw new Error(`${error.message} (last hold reason seen: ${seen ?? 'none'})`);
  });
  expect(held.hold_reason).toMatch(reason);
  const status = await cli(['status', id, '--json'], { url: db.url, dir });
  expect(status.code, status.stderr).toBe(0);
  const summary = status.json<{ migrations: { backfillSummary: { holdReason: string | null; finished: boolean } }[] }>().migrations[0]!
    .backfillSummary;
  expect(summary.finished).toBe(false);
  expect(summary.holdReason).toMatch(reason);
  // Two re-checks later still no batch has run. Each check reads the backfill's control row first
  // (src/backfill/governor.ts), so the scans of that table count them (reported with a delay,
  // hence the generous deadline); and at least two hold-check intervals (1 s by default) pass.
  const checks = await controlScans(db);
  const from = Date.now();
  await until(async () => Date.now() - from >= 2_200 && (await controlScans(db)) >= checks + 2, 'two more hold checks', 60_000);
  const still = (await progress(db, id))!;
  expect(still.rows_done).toBe(held.rows_done);
  expect(still.hold_reason).toMatch(reason);
  return held.hold_reason!;
}

/** The backfill finished every row, and the standby, once caught up, has exactly the primary's table. */
export async function expectFinishedAndReplicated(db: TestDatabase, standby: Standby, id: string, run: Promise<CliResult>): Promise<void> {
  const r = await run;
  expect(r.code, r.stderr).toBe(0);
  const done = (await progress(db, id))!;
  expect(done.finished_at).not.toBeNull();
  expect(done.hold_reason).toBeNull();
  expect(Number(done.rows_done)).toBe(ROWS);
  const [unfilled] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM orders WHERE reference IS DISTINCT FROM ref`);
  expect(unfilled!.n).toBe('0');
  await standby.waitCaughtUp(db.pool);
  const digest = TABLE_DIGEST_SQL('orders', 'id');
  const [onPrimary] = await db.query<{ digest: string; n: number }>(digest);
  const [onStandby] = await standby.query<{ digest: string; n: number }>(digest, [], db.name);
  expect(onStandby).toEqual(onPrimary);
  expect(onPrimary!.n).toBe(ROWS);
}
