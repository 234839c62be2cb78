import { beforeAll, expect } from 'vitest';
import { ident } from '../../src/sql/ident.js';
import { cli, spawnCli, type CliResult } from './cli.js';
import type { TestDatabase } from './database.js';
import { planDir, renamePlan } from './plans.js';
import { until } from './wait.js';

/**
 * A backfill about to run: a table `(id, <from> text)` holding rows 1..rows ('<prefix>' || id), a
 * plan that renames `from` to `to`, advanced to dual-write so that the next `advance` backfills.
 * What the backfill tests (control, signals, app impact, trigger skip, vacuum, lag settings) share;
 * each states only its table and what it adds to it.
 */
export interface BackfillCase {
  id: string;
  table: string;
  from: string;
  to: string;
  rows: number;
  /** The column list (default `id bigint PRIMARY KEY, <from> text NOT NULL`); `id` and `from` come first. */
  columns?: string;
  /** Storage parameters, as in `WITH (…)`. */
  storage?: string;
  /** What each value starts with (default 'r'). */
  prefix?: string;
  /** Statements run once the rows are in, before ANALYZE and expand (triggers, settings, owners). */
  prepare?: (db: TestDatabase) => Promise<void>;
  /** ANALYZE the table before expand (default true). */
  analyze?: boolean;
  /** The URL the CLI connects with (default the test database's: another role). */
  url?: () => string;
}

/** One row of pgshift.backfill_progress. */
export interface ProgressRow {
  task: string;
  cursor: string[] | null;
  range_start: string[] | null;
  range_end: string[] | null;
  rows_done: string;
  batches: string;
  batch_size: number | null;
  hold_reason: string | null;
  finished_at: Date | null;
}

export interface BackfillFixture {
  readonly id: string;
  /** The migrations directory (set once the file's beforeAll has run). */
  readonly dir: string;
  /** The CLI, in-process, on this migration's directory. */
  run(...args: string[]): Promise<CliResult>;
  /** The real `pgshift` process on this migration's directory. */
  spawn(args: string[], env?: NodeJS.ProcessEnv): ReturnType<typeof spawnCli>;
  /** The first task's checkpoint (undefined before the backfill starts). */
  progress(): Promise<ProgressRow | undefined>;
  /** Polls the checkpoint until it holds, and returns it. */
  held(): Promise<ProgressRow>;
  /** Rows whose `to` differs from `from` (0 once the backfill is done). */
  unsynced(): Promise<number>;
}

/** Creates the table of `c` and fills it (no plan, no migration): for a second table in one file. */
export async function createBackfillTable(db: TestDatabase, c: Omit<BackfillCase, 'id' | 'to'>) {
  const t = ident(c.table);
  await db.query(
    `CREATE TABLE ${t} (${c.columns ?? `id bigint PRIMARY KEY, ${ident(c.from)} text NOT NULL`})${c.storage ? ` WITH (${c.storage})` : ''}`,
  );
  await db.query(`INSERT INTO ${t} SELECT g, '${c.prefix ?? 'r'}' || g FROM generate_series(1, ${c.rows}) g`);
  await c.prepare?.(db);
  if (c.analyze ?? true) await db.query(`ANALYZE ${t}`);
}

/** Sets `c` up once for the test file (in its beforeAll) and returns what its tests run it with. */
export function useBackfillAtDualWrite(db: TestDatabase, c: BackfillCase): BackfillFixture {
  const holder = { dir: '' };
  const fixture = backfillFixture(db, c, holder);
  beforeAll(async () => {
    await setUpAtDualWrite(db, c, fixture, holder);
  });
  return fixture;
}

/** Sets `c` up now (inside a test, for a table of its own) and returns what the test runs it with. */
export async function backfillAtDualWrite(db: TestDatabase, c: BackfillCase): Promise<BackfillFixture> {
  const holder = { dir: '' };
  const fixture = backfillFixture(db, c, holder);
  await setUpAtDualWrite(db, c, fixture, holder);
  return fixture;
}

async function setUpAtDualWrite(db: TestDatabase, c: BackfillCase, fixture: BackfillFixture, holder: { dir: string }) {
  holder.dir = planDir(renamePlan(c.id, { table: c.table, from: c.from, to: c.to }));
  await createBackfillTable(db, c);
  const r = await fixture.run('advance', '--to', 'dual-write');
  expect(r.code, r.stderr).toBe(0);
}

function backfillFixture(db: TestDatabase, c: BackfillCase, holder: { dir: string }): BackfillFixture {
  const url = () => c.url?.() ?? db.url;
  const fixture: BackfillFixture = {
    id: c.id,
    get dir() {
      return holder.dir;
    },
    run: (...args) => cli(args, { url: url(), dir: holder.dir }),
    spawn: (args, env) => spawnCli(args, { url: url(), dir: holder.dir, env }),
    progress: async () =>
      (await db.query<ProgressRow>(`SELECT * FROM pgshift.backfill_progress WHERE migration_id = $1 ORDER BY task`, [c.id]))[0],
    held: () =>
      until(async () => {
        const p = await fixture.progress();
        return p?.hold_reason ? p : null;
      }, 'the hold'),
    async unsynced() {
      const [row] = await db.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${ident(c.table)} WHERE ${ident(c.to)} IS DISTINCT FROM ${ident(c.from)}`,
      );
      return Number(row!.n);
    },
  };
  return fixture;
}

/** What `advance --json` reports of the first backfill task it ran. */
export function backfillTask<T = Record<string, unknown>>(r: CliResult): T {
  return r.json<{ migrations: { ran: { details: { tasks: Record<string, T> } }[] }[] }>().migrations[0]!.ran[0]!.details.tasks[
    '0.backfill'
  ]!;
}

/** Waits until no pgshift session is connected to the test database (their statistics are then flushed). */
export function pgshiftSessionsGone(db: TestDatabase) {
  return until(
    async () =>
      Number(
        (
          await db.query<{ n: string }>(
            `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'pgshift%'`,
          )
        )[0]!.n,
      ) === 0,
    'the backfill’s sessions to exit',
  );
}
