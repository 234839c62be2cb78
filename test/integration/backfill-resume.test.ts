import { beforeAll, describe, expect, test } from 'vitest';
import { cli, spawnCli } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { planDir, renamePlan } from '../support/plans.js';
import { until } from '../support/wait.js';

const ID = '20261121_resume';
const ROWS = 30_000;
const BATCH = 200;

describe('a backfill killed with SIGKILL resumes from its checkpoint', () => {
  const db = useDatabase();
  let dir: string;

  beforeAll(async () => {
    dir = planDir(renamePlan(ID, { table: 'events', from: 'payload', to: 'body' }));
    // updates counts how often each row is rewritten: a redone batch would show as 2.
    await db.query(`CREATE TABLE events (id bigint PRIMARY KEY, payload text NOT NULL, updates int NOT NULL DEFAULT 0)`);
    await db.query(
      `CREATE FUNCTION count_updates() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updates := OLD.updates + 1; RETURN NEW; END $$`,
    );
    await db.query(`CREATE TRIGGER count_updates BEFORE UPDATE ON events FOR EACH ROW EXECUTE FUNCTION count_updates()`);
    // Gaps in the key: every third id is missing.
    await db.query(`INSERT INTO events (id, payload) SELECT g, 'p' || g FROM generate_series(1, ${(ROWS * 3) / 2}) g WHERE g % 3 <> 0`);
    await db.query(`ANALYZE events`);
    expect((await cli(['advance', '--to', 'dual-write'], { url: db.url, dir })).code).toBe(0);
  });

  test('a second orchestrator exits 4 and names the holder while the first runs', async () => {
    const first = spawnCli(['advance', '--batch-size', String(BATCH), '--batch-delay', '30'], { url: db.url, dir });
    const progress = () =>
      db.query<{ rows_done: string }>(`SELECT rows_done FROM pgshift.backfill_progress WHERE migration_id = $1`, [ID]).catch(() => []);
    await until(async () => Number((await progress())[0]?.rows_done ?? 0) >= BATCH, 'the first batch');
    const [holder] = await db.query<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    const second = await cli(['advance', '--json'], { url: db.url, dir });
    expect(second.code).toBe(4);
    expect(second.json()).toMatchObject({ error: 'orchestrator_busy', holderPid: holder!.pid, holderApplication: 'pgshift advance' });
    expect(second.stderr).toMatch(new RegExp(`backend pid ${holder!.pid}, application "pgshift advance", since \\d{4}-`));

    // Now kill the first one hard, mid-backfill.
    const atKill = await until(async () => {
      const [p] = await progress();
      return Number(p?.rows_done ?? 0) >= 10 * BATCH && p;
    }, 'ten batches');
    expect(atKill).toBeTruthy();
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.code).toBe(128);
  });

  test('the rerun continues after the last checkpoint and redoes no batch', async () => {
    const [cp] = await db.query<{ cursor: string[]; rows_done: string; finished_at: Date | null }>(
      `SELECT cursor, rows_done, finished_at FROM pgshift.backfill_progress WHERE migration_id = $1`,
      [ID],
    );
    expect(cp!.finished_at).toBeNull();
    const doneAtKill = Number(cp!.rows_done);
    expect(doneAtKill).toBeGreaterThan(0);
    expect(doneAtKill).toBeLessThan(ROWS);
    // The checkpoint commits with its batch: exactly the rows up to the cursor are done.
    const [upTo] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM events WHERE id <= $1 AND body = payload`, [cp!.cursor[0]]);
    expect(Number(upTo!.n)).toBe(doneAtKill);
    const [beyond] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM events WHERE id > $1 AND body IS NOT NULL`, [cp!.cursor[0]]);
    expect(Number(beyond!.n)).toBe(0);

    const rerun = spawnCli(['advance', '--batch-size', String(BATCH), '--json'], { url: db.url, dir });
    const r = await rerun.done;
    expect(r.code, r.stderr).toBe(0);
    const task = r.json<{
      migrations: { ran: { details: { tasks: Record<string, { resumedFrom: string[]; rowsUpdated: number; rowsDone: number }> } }[] }[];
    }>().migrations[0]!.ran[0]!.details.tasks['0.backfill']!;
    expect(task.resumedFrom).toEqual(cp!.cursor);
    expect(task.rowsUpdated).toBe(ROWS - doneAtKill);
    expect(task.rowsDone).toBe(ROWS);

    const [counts] = await db.query<{ max: number; min: number }>(`SELECT max(updates) AS max, min(updates) AS min FROM events`);
    expect(counts).toEqual({ max: 1, min: 1 });
    const runs = await db.query<{ phase: string; status: string }>(
      `SELECT phase, status FROM pgshift.phase_runs WHERE migration_id = $1 ORDER BY id`,
      [ID],
    );
    expect(runs.map((x) => `${x.phase}:${x.status}`)).toEqual([
      'expand:succeeded',
      'dual-write:succeeded',
      'backfill:interrupted',
      'backfill:succeeded',
    ]);
    const v = await cli(['verify', '--json'], { url: db.url, dir });
    expect(v.code).toBe(0);
    expect(v.json()).toMatchObject({ verifications: [{ passed: true, rowsChecked: ROWS, mismatches: 0 }] });
  });

  test('a crash between the last backfill commit and its run record does not wedge the migration', async () => {
    // As if the process died after the state commit but before the run was marked succeeded.
    await db.query(
      `UPDATE pgshift.phase_runs SET status = 'interrupted' WHERE migration_id = $1 AND phase = 'backfill' AND status = 'succeeded'`,
      [ID],
    );
    const r = await cli(['advance', '--json'], { url: db.url, dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({ migrations: [{ id: ID, state: 'contract', complete: true }] });
  });
});
