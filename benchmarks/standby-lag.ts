/**
 * How far past the replica-lag limit does a backfill take a standby whose replay stops?
 *
 *   npm run bench:standby-lag                     # 3 repeats of every scenario, old engine vs this one
 *   npm run bench:standby-lag -- --repeats 5 --rows 200000 --old <git ref>
 *
 * Builds its own primary and streaming standby from Debian's PostgreSQL 15 (initdb, pg_basebackup
 * -R, a second postmaster on another free loopback port; run as user postgres when root), and
 * removes them at the end. "old" is another checkout of pgshift (default: the commit before the
 * one that added --max-lag-bytes), extracted with `git archive`; "new" is this tree. Each trial:
 * a fresh database and table, a rename migration advanced to dual-write, then its backfill
 * (rate-capped so it runs long enough); after a few batches the standby is broken the scenario's
 * way, and every batch's commit is recorded (time and WAL position, by a trigger on the ledger's
 * progress row). Measured: the worst lag the backfill's own commits made before it held (ms since
 * the last commit the standby replayed, and bytes of WAL the standby had not replayed), minus the
 * limit (overshoot; negative = held before the limit), and how many batches committed after the
 * limit was crossed. Results: benchmarks/results/<date>-standby-lag.json, plus a table on stdout.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { sleep } from './stats.js';

type OrchestratorModule = typeof import('../src/orchestrator.js');

const REPO = fileURLToPath(new URL('..', import.meta.url));
const PG_BIN = process.env.PGSHIFT_PG15_BIN ?? '/usr/lib/postgresql/15/bin';

const { values: args } = parseArgs({
  options: {
    repeats: { type: 'string', default: '3' },
    rows: { type: 'string', default: '200000' },
    'max-rate': { type: 'string', default: '20000' },
    old: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write('npm run bench:standby-lag -- [--repeats 3] [--rows 200000] [--max-rate 20000] [--old <git ref>]\n');
  process.exit(0);
}
const REPEATS = Number(args.repeats);
const ROWS = Number(args.rows);
const MAX_RATE = Number(args['max-rate']);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function asPostgres(binary: string, argv: string[]): void {
  const root = process.getuid?.() === 0;
  const r = spawnSync(root ? 'runuser' : binary, root ? ['-u', 'postgres', '--', binary, ...argv] : argv, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${path.basename(binary)} ${argv.join(' ')} failed: ${r.stderr || r.stdout}`);
}

const lsnBytes = (lsn: string) => {
  const [hi, lo] = lsn.split('/');
  return parseInt(hi!, 16) * 2 ** 32 + parseInt(lo!, 16);
};

interface Servers {
  dir: string;
  primaryUrl: (db: string) => string;
  standbyUrl: (db: string) => string;
  stop(): void;
}

/** A PostgreSQL 15 primary and a streaming standby of it, both on free loopback ports. */
async function startServers(): Promise<Servers> {
  if (!existsSync(`${PG_BIN}/pg_basebackup`)) throw new Error(`no PostgreSQL 15 at ${PG_BIN} (apt-get install postgresql-15)`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgshift-lag-bench-'));
  if (process.getuid?.() === 0)
    chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
  const [p, s] = [await freePort(), await freePort()];
  asPostgres(`${PG_BIN}/initdb`, ['-D', `${dir}/primary`, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8']);
  const common = `-c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off -c max_connections=100`;
  asPostgres(`${PG_BIN}/pg_ctl`, [
    '-D',
    `${dir}/primary`,
    '-l',
    `${dir}/primary.log`,
    '-w',
    'start',
    '-o',
    `-p ${p} ${common} -c synchronous_commit=off`,
  ]);
  const stop = () => {
    for (const d of ['standby', 'primary']) {
      try {
        asPostgres(`${PG_BIN}/pg_ctl`, ['-D', `${dir}/${d}`, '-m', 'immediate', 'stop']);
      } catch {
        // not running
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    asPostgres(`${PG_BIN}/pg_basebackup`, [
      '-h',
      '127.0.0.1',
      '-p',
      String(p),
      '-U',
      'postgres',
      '-D',
      `${dir}/standby`,
      '-R',
      '-X',
      'stream',
      '-c',
      'fast',
    ]);
    asPostgres(`${PG_BIN}/pg_ctl`, [
      '-D',
      `${dir}/standby`,
      '-l',
      `${dir}/standby.log`,
      '-w',
      'start',
      '-o',
      `-p ${s} ${common} -c cluster_name=bench_standby`,
    ]);
  } catch (error) {
    stop();
    throw error;
  }
  const url = (port: number) => (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`;
  return { dir, primaryUrl: url(p), standbyUrl: url(s), stop };
}

/** The engine before this change: a `git archive` of that commit, sharing this tree's node_modules. */
function oldCheckout(ref: string | undefined): { root: string; commit: string } {
  const git = (...a: string[]) => execFileSync('git', a, { cwd: REPO, encoding: 'utf8' }).trim();
  const added = git('log', '--format=%H', '--reverse', '-S', 'maxLagBytes', '--', 'phases/context.ts').split('\n')[0];
  const commit = git('rev-parse', ref ?? `${added}^`);
  const root = mkdtempSync(path.join(os.tmpdir(), 'pgshift-old-'));
  execFileSync('sh', ['-c', `git archive ${commit} | tar -x -C ${root}`], { cwd: REPO });
  symlinkSync(path.join(REPO, 'node_modules'), path.join(root, 'node_modules'));
  return { root, commit };
}

async function client(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return c;
}

async function waitFor<T>(probe: () => Promise<T | null | undefined | false>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

type Breakage = 'pause-replay' | 'cut-off';
interface Scenario {
  name: string;
  breakage: Breakage;
  /** Lag read on the standby (--replica-url) or on the primary. */
  onStandby: boolean;
  maxLagMs: number | null;
  maxLagBytes: number | null;
}

const SCENARIOS: Scenario[] = [
  { name: 'replay paused, --replica-url, --max-lag 500', breakage: 'pause-replay', onStandby: true, maxLagMs: 500, maxLagBytes: null },
  { name: 'replay paused, on the primary, --max-lag 500', breakage: 'pause-replay', onStandby: false, maxLagMs: 500, maxLagBytes: null },
  {
    name: 'replay paused, on the primary, --max-lag-bytes 4MB',
    breakage: 'pause-replay',
    onStandby: false,
    maxLagMs: null,
    maxLagBytes: 4 * 1024 * 1024,
  },
  {
    name: 'cut off (primary_conninfo nowhere), --replica-url, --max-lag 500',
    breakage: 'cut-off',
    onStandby: true,
    maxLagMs: 500,
    maxLagBytes: null,
  },
];

interface Trial {
  held: boolean;
  holdReason: string | null;
  /** Batches committed after the breakage before the hold (or the trial's end). */
  batchesAfterBreak: number;
  batchesPastLimit: number | null;
  rowsAfterBreak: number;
  /** Worst lag made by the backfill's commits after the breakage. */
  worstLagMs: number;
  worstLagBytes: number;
  overshootMs: number | null;
  overshootBytes: number | null;
}

const TRIAL_LIMIT_MS = 20_000;

async function trial(servers: Servers, engine: { root: string | null; label: string }, scenario: Scenario, n: number): Promise<Trial> {
  const dbName = `lag_bench_${engine.label}_${n}_${Date.now()}`;
  const admin = await client(servers.primaryUrl('postgres'));
  const standbyAdmin = await client(servers.standbyUrl('postgres'));
  await admin.query(`CREATE DATABASE ${dbName}`);
  const db = await client(servers.primaryUrl(dbName));
  const orchestrator = (await import(
    engine.root ? pathToFileURL(path.join(engine.root, 'src/orchestrator.ts')).href : '../src/orchestrator.js'
  )) as OrchestratorModule;
  const id = '20261204_lag_bench';
  const stop = new AbortController();
  let restore: string | null = null;
  try {
    await db.query(`CREATE TABLE orders (id bigint PRIMARY KEY, ref text NOT NULL, note text)`);
    await db.query(`INSERT INTO orders SELECT g, 'r' || g, repeat('x', 40) FROM generate_series(1, $1::int) g`, [ROWS]);
    await db.query(`ANALYZE orders`);
    const backfill: Record<string, unknown> = {
      maxRate: MAX_RATE,
      maxLagMs: scenario.maxLagMs,
      replicaUrl: scenario.onStandby ? servers.standbyUrl(dbName) : null,
      holdOnVacuum: 'off',
    };
    if (engine.root === null) backfill.maxLagBytes = scenario.maxLagBytes;
    const pgshift = new orchestrator.Pgshift({
      databaseUrl: servers.primaryUrl(dbName),
      migrations: [{ id, operations: [{ kind: 'renameColumn', schema: 'public', table: 'orders', from: 'ref', to: 'reference' }] }],
      application: 'pgshift lag bench',
      backfill: backfill as never,
      signal: stop.signal,
    });
    await pgshift.advance({ migration: id, to: 'dual-write' });
    await db.query(
      `CREATE TABLE lag_trace (seq bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(), batches bigint, rows_done bigint, hold_reason text, lsn pg_lsn NOT NULL DEFAULT pg_current_wal_insert_lsn())`,
    );
    await db.query(`CREATE FUNCTION lag_trace_row() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO public.lag_trace (batches, rows_done, hold_reason) VALUES (NEW.batches, NEW.rows_done, NEW.hold_reason); RETURN NEW; END $$`);
    await db.query(`CREATE TRIGGER lag_trace AFTER UPDATE ON pgshift.backfill_progress FOR EACH ROW EXECUTE FUNCTION lag_trace_row()`);

    const running = pgshift.advance({ migration: id }).catch((error: unknown) => error);
    await waitFor(async () => (await db.query(`SELECT 1 FROM pgshift.backfill_progress WHERE batches >= 3`)).rowCount, 'three batches');

    // Break the standby; from here its lag is what the backfill's commits add.
    if (scenario.breakage === 'pause-replay') {
      await standbyAdmin.query('SELECT pg_wal_replay_pause()');
      await waitFor(
        async () => (await standbyAdmin.query(`SELECT pg_get_wal_replay_pause_state() = 'paused' AS p`)).rows[0].p,
        'replay paused',
      );
    } else {
      restore = (await standbyAdmin.query('SHOW primary_conninfo')).rows[0].primary_conninfo as string;
      await standbyAdmin.query(
        `ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=${await freePort()} user=postgres connect_timeout=2'`,
      );
      await standbyAdmin.query('SELECT pg_reload_conf()');
      await waitFor(
        async () => !(await standbyAdmin.query(`SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming'`)).rowCount,
        'receiver stopped',
      );
    }
    const [at] = (await standbyAdmin.query(`SELECT pg_last_wal_replay_lsn()::text AS lsn, pg_last_xact_replay_timestamp() AS ts`)).rows;
    const replayedLsn = lsnBytes(at.lsn);
    const replayedAt = (at.ts as Date).getTime();
    const [{ seq: breakSeq }] = (await db.query(`SELECT coalesce(max(seq), 0)::int AS seq FROM lag_trace`)).rows;

    // Until it holds, finishes, or the trial's time is up.
    const deadline = Date.now() + TRIAL_LIMIT_MS;
    let done = false;
    void running.then(() => (done = true));
    while (
      !done &&
      Date.now() < deadline &&
      !(await db.query(`SELECT 1 FROM lag_trace WHERE seq > $1 AND hold_reason IS NOT NULL`, [breakSeq])).rowCount
    )
      await sleep(20);
    stop.abort();
    await running;

    const trace = (
      await db.query<{ at: Date; batches: string; rows_done: string; hold_reason: string | null; lsn: string }>(
        `SELECT at, batches, rows_done, hold_reason, lsn::text FROM lag_trace WHERE seq > $1 ORDER BY seq`,
        [breakSeq],
      )
    ).rows;
    const firstHold = trace.findIndex((r) => r.hold_reason);
    const commits = (firstHold < 0 ? trace : trace.slice(0, firstHold)).filter((r) => !r.hold_reason);
    const [before] = (
      await db.query(`SELECT max(batches)::int AS b, max(rows_done)::bigint AS r FROM lag_trace WHERE seq <= $1`, [breakSeq])
    ).rows;
    const lagMs = (r: { at: Date }) => r.at.getTime() - replayedAt;
    const lagBytes = (r: { lsn: string }) => lsnBytes(r.lsn) - replayedLsn;
    const worstLagMs = commits.length ? Math.max(...commits.map(lagMs)) : 0;
    const worstLagBytes = commits.length ? Math.max(...commits.map(lagBytes)) : 0;
    const crossed = (r: { at: Date; lsn: string }) =>
      (scenario.maxLagMs !== null && lagMs(r) > scenario.maxLagMs) || (scenario.maxLagBytes !== null && lagBytes(r) > scenario.maxLagBytes);
    const crossing = commits.findIndex(crossed);
    const last = commits[commits.length - 1];
    return {
      held: firstHold >= 0,
      holdReason: firstHold >= 0 ? trace[firstHold]!.hold_reason : null,
      batchesAfterBreak: last ? Number(last.batches) - Number(before.b) : 0,
      batchesPastLimit: crossing < 0 ? 0 : commits.length - 1 - crossing,
      rowsAfterBreak: last ? Number(last.rows_done) - Number(before.r) : 0,
      worstLagMs,
      worstLagBytes,
      overshootMs: scenario.maxLagMs === null ? null : worstLagMs - scenario.maxLagMs,
      overshootBytes: scenario.maxLagBytes === null ? null : worstLagBytes - scenario.maxLagBytes,
    };
  } finally {
    stop.abort();
    await standbyAdmin.query('SELECT pg_wal_replay_resume()').catch(() => undefined);
    if (restore !== null) {
      await standbyAdmin.query(`ALTER SYSTEM SET primary_conninfo = ${pg.escapeLiteral(restore)}`);
      await standbyAdmin.query('SELECT pg_reload_conf()');
    }
    await db.end();
    await waitFor(
      async () => (await admin.query(`SELECT 1 FROM pg_stat_replication WHERE state = 'streaming'`)).rowCount,
      'the standby streaming again',
    );
    await admin.query(`DROP DATABASE ${dbName} WITH (FORCE)`);
    await admin.end();
    await standbyAdmin.end();
  }
}

const median = (xs: (number | null)[]): number | null => {
  const v = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
};

async function main(): Promise<void> {
  const old = oldCheckout(args.old);
  const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
  const servers = await startServers();
  const engines = [
    { root: old.root, label: 'old', commit: old.commit },
    { root: null, label: 'new', commit: head },
  ];
  const results: Record<string, unknown>[] = [];
  try {
    for (const scenario of SCENARIOS) {
      for (const engine of engines) {
        const trials: Trial[] = [];
        for (let i = 0; i < REPEATS; i++) {
          const t = await trial(servers, engine, scenario, i);
          process.stderr.write(`${scenario.name} [${engine.label}] #${i + 1}: ${JSON.stringify(t)}\n`);
          trials.push(t);
        }
        results.push({
          scenario: scenario.name,
          engine: engine.label,
          commit: engine.commit,
          limits: { maxLagMs: scenario.maxLagMs, maxLagBytes: scenario.maxLagBytes },
          held: `${trials.filter((t) => t.held).length}/${trials.length}`,
          median: {
            overshootMs: median(trials.map((t) => t.overshootMs)),
            overshootBytes: median(trials.map((t) => t.overshootBytes)),
            worstLagMs: median(trials.map((t) => t.worstLagMs)),
            worstLagBytes: median(trials.map((t) => t.worstLagBytes)),
            batchesPastLimit: median(trials.map((t) => t.batchesPastLimit)),
            rowsAfterBreak: median(trials.map((t) => t.rowsAfterBreak)),
          },
          trials,
        });
      }
    }
  } finally {
    servers.stop();
    rmSync(old.root, { recursive: true, force: true });
  }
  const [version] = execFileSync(`${PG_BIN}/postgres`, ['--version'], { encoding: 'utf8' }).trim().split('\n');
  const out = {
    benchmark: 'standby-lag',
    date: new Date().toISOString(),
    server: version,
    machine: { cpus: os.cpus().length, memoryGb: Math.round(os.totalmem() / 2 ** 30) },
    rows: ROWS,
    maxRate: MAX_RATE,
    repeats: REPEATS,
    trialLimitMs: TRIAL_LIMIT_MS,
    results,
  };
  mkdirSync(path.join(REPO, 'benchmarks/results'), { recursive: true });
  const file = path.join(REPO, 'benchmarks/results', `${out.date.slice(0, 10)}-standby-lag.json`);
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  const fmt = (n: number | null, unit: string) => (n === null ? '-' : `${Math.round(n).toLocaleString('en-US')} ${unit}`);
  process.stdout.write(
    '| scenario | engine | held | overshoot ms | overshoot bytes | worst lag ms | worst lag bytes | batches past limit | rows after break |\n|---|---|---|---|---|---|---|---|---|\n',
  );
  for (const r of results) {
    const m = r.median as Record<string, number | null>;
    process.stdout.write(
      `| ${String(r.scenario)} | ${String(r.engine)} | ${String(r.held)} | ${fmt(m.overshootMs!, 'ms')} | ${fmt(m.overshootBytes!, 'B')} | ${fmt(m.worstLagMs!, 'ms')} | ${fmt(m.worstLagBytes!, 'B')} | ${fmt(m.batchesPastLimit!, '')} | ${fmt(m.rowsAfterBreak!, '')} |\n`,
    );
  }
  process.stdout.write(`medians over ${REPEATS} trials; results in ${path.relative(REPO, file)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
