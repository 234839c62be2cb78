import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { until } from './wait.js';

const run = promisify(execFile);

/**
 * The streaming standby of the test server that .ci/run builds on its PostgreSQL 15 pass:
 * PGSHIFT_TEST_STANDBY_URL (its URL), PGSHIFT_TEST_STANDBY_DATA (its data directory, to stop and
 * start it) and PGSHIFT_TEST_PG_BIN (pg_ctl's directory). Missing under CI=true is a failure, not a
 * skip; elsewhere the tests skip visibly with this reason.
 */
export function standbyFromEnv(): { url: string; dataDir: string; bin: string } | { missing: string } {
  const url = process.env.PGSHIFT_TEST_STANDBY_URL;
  const dataDir = process.env.PGSHIFT_TEST_STANDBY_DATA;
  const bin = process.env.PGSHIFT_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';
  const missing = !url ? 'PGSHIFT_TEST_STANDBY_URL is not set' : !dataDir ? 'PGSHIFT_TEST_STANDBY_DATA is not set' : null;
  if (missing) {
    const reason = `${missing}: the standby tests need a streaming standby of the test server (bash .ci/run builds one)`;
    if (process.env.CI === 'true') throw new Error(reason);
    return { missing: reason };
  }
  return { url: url!, dataDir: dataDir!, bin };
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Runs a PostgreSQL binary as the server's owner (postgres refuses root). */
async function asOwner(binary: string, args: string[]): Promise<void> {
  const asRoot = process.getuid?.() === 0;
  await run(asRoot ? 'runuser' : binary, asRoot ? ['-u', 'postgres', '--', binary, ...args] : args);
}

/** One standby, driven the ways production breaks it. */
export class Standby {
  constructor(
    readonly url: string,
    private readonly dataDir: string,
    private readonly bin: string,
  ) {}

  urlFor(database: string): string {
    return withDatabase(this.url, database);
  }

  async query<R extends pg.QueryResultRow>(sql: string, values?: unknown[], database = 'postgres'): Promise<R[]> {
    const c = new pg.Client({ connectionString: this.urlFor(database) });
    await c.connect();
    try {
      return (await c.query<R>(sql, values)).rows;
    } finally {
      await c.end();
    }
  }

  async pauseReplay(): Promise<void> {
    await this.query('SELECT pg_wal_replay_pause()');
    await until(
      async () => (await this.query<{ s: string }>('SELECT pg_get_wal_replay_pause_state() AS s'))[0]?.s === 'paused',
      'replay paused',
    );
  }

  async resumeReplay(): Promise<void> {
    await this.query('SELECT pg_wal_replay_resume()');
  }

  /** Points primary_conninfo at a port nobody listens on; returns what puts it back. */
  async cutOff(deadPort: number): Promise<() => Promise<void>> {
    const [row] = await this.query<{ primary_conninfo: string }>('SHOW primary_conninfo');
    const original = row!.primary_conninfo;
    await this.query(`ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=${deadPort} user=postgres connect_timeout=2'`);
    await this.query('SELECT pg_reload_conf()');
    await until(
      async () => !(await this.query('SELECT 1 FROM pg_stat_wal_receiver WHERE status = $1', ['streaming'])).length,
      'the WAL receiver to stop streaming',
    );
    return async () => {
      await this.query(`ALTER SYSTEM SET primary_conninfo = ${pg.escapeLiteral(original)}`);
      await this.query('SELECT pg_reload_conf()');
    };
  }

  async stop(): Promise<void> {
    await asOwner(`${this.bin}/pg_ctl`, ['-D', this.dataDir, '-m', 'fast', '-w', 'stop']);
  }

  async start(): Promise<void> {
    // pg_ctl start reuses the options the server last ran with (postmaster.opts).
    await asOwner(`${this.bin}/pg_ctl`, ['-D', this.dataDir, '-w', '-t', '60', '-l', `${this.dataDir}/../server.log`, 'start']);
  }

  /** Waits until the standby has replayed everything the primary has written so far. */
  async waitCaughtUp(primary: pg.Pool): Promise<void> {
    const [{ lsn }] = (await primary.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows as [{ lsn: string }];
    await until(
      async () => {
        const rows = await this.query<{ ok: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [lsn]).catch(() => []);
        return rows[0]?.ok === true;
      },
      `the standby to replay up to ${lsn}`,
      120_000,
    );
  }
}

/** A digest of every row of the table, in key order: equal on both servers means the same data. */
export const TABLE_DIGEST_SQL = (table: string, key: string) =>
  `SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t.${key}), '')) AS digest, count(*)::int AS n FROM ${table} t`;

/** One row per change of the migration's backfill_progress (each batch's checkpoint, each hold), with the WAL position and time. */
export interface TraceRow {
  at: Date;
  batches: number;
  rows_done: number;
  hold_reason: string | null;
  lsn: string;
}

/**
 * Records every write to pgshift.backfill_progress (a batch's checkpoint commits with its batch;
 * a hold is written when it starts) with the primary's WAL position at that moment: exactly where
 * each batch ended, without polling.
 */
export async function installTrace(db: pg.Pool): Promise<void> {
  await db.query(
    `CREATE TABLE lag_trace (seq bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(), batches bigint, rows_done bigint, hold_reason text, lsn pg_lsn NOT NULL DEFAULT pg_current_wal_insert_lsn())`,
  );
  await db.query(`CREATE FUNCTION lag_trace_row() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO public.lag_trace (batches, rows_done, hold_reason) VALUES (NEW.batches, NEW.rows_done, NEW.hold_reason); RETURN NEW; END $$`);
  await db.query(`CREATE TRIGGER lag_trace AFTER UPDATE ON pgshift.backfill_progress FOR EACH ROW EXECUTE FUNCTION lag_trace_row()`);
}

export async function readTrace(db: pg.Pool): Promise<TraceRow[]> {
  const { rows } = await db.query<{ at: Date; batches: string; rows_done: string; hold_reason: string | null; lsn: string }>(
    `SELECT at, batches, rows_done, hold_reason, lsn::text FROM lag_trace ORDER BY seq`,
  );
  return rows.map((r) => ({
    at: r.at,
    batches: Number(r.batches),
    rows_done: Number(r.rows_done),
    hold_reason: r.hold_reason,
    lsn: r.lsn,
  }));
}

/**
 * How many batches committed after the first one that took the lag past the limit, up to the
 * first hold (0 when the hold came at or before the crossing), or null when it never held.
 */
export function batchesPastLimit(
  trace: TraceRow[],
  crossed: (row: TraceRow) => boolean,
): { held: TraceRow; crossing: TraceRow | null; past: number } | null {
  const held = trace.find((r) => r.hold_reason);
  if (!held) return null;
  const crossing = trace.find((r) => !r.hold_reason && r.batches <= held.batches && crossed(r)) ?? null;
  return { held, crossing, past: crossing ? held.batches - crossing.batches : 0 };
}

/** An LSN ('16/B374D848') as a byte position. */
export function lsnBytes(lsn: string): number {
  const [hi, lo] = lsn.split('/');
  return parseInt(hi!, 16) * 2 ** 32 + parseInt(lo!, 16);
}
