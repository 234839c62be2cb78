import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import pg from 'pg';
import { startEmbeddedPostgres } from '../embedded.js';
import {
  fleetAdvance,
  fleetStatus,
  fleetVerify,
  type FleetAdvanceOptions,
  type FleetAdvanceReport,
  type FleetEvent,
  type FleetOptions,
  type FleetTarget,
} from '../../src/index.js';
import { ident } from '../../src/sql/ident.js';
import { AppWriter, checkWrites, type WriteCheck } from './writers.js';

/**
 * `npm run demo:fleet`: the users.email → email_address rename rolled out over a fleet of
 * databases (one embedded server), phase by phase in lockstep and in waves (one canary, then the
 * rest), while an app writes to every shard. Mid-backfill one shard hits a lock a manual job holds
 * (an open CREATE INDEX transaction): its backfill gives up after its lock retries, the fleet halts
 * (the running backfills stop after their batch, nothing new starts), the job is rolled back, and
 * `fleet advance` again resumes where each shard stopped. Then contract everywhere and, on every
 * shard, a row-by-row check that no write was lost. Prints PASS or FAIL.
 */

const PLAN_FILE = fileURLToPath(new URL('../../migrations/20261121_rename_users_email.json', import.meta.url));
const MIGRATION = '20261121_rename_users_email';
const TEMPLATE = 'fleet_demo_template';
const WRITER_PAUSE_MS = 20;
// Short lock waits so the held lock fails the shard's backfill in seconds, not minutes.
const LOCK = { lockTimeoutMs: 300, attempts: 4, maxDelayMs: 500 };
const LOCK_FLAGS = `--lock-timeout ${LOCK.lockTimeoutMs} --lock-attempts ${LOCK.attempts} --lock-max-delay ${LOCK.maxDelayMs}`;

interface DemoOptions {
  shards: number;
  rows: number;
  concurrency: number;
  faulty: number;
  batchSize: number;
  maxRate: number;
}

function positiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} must be a positive integer`);
    return n;
  };
}

function parseOptions(argv: string[]): DemoOptions {
  const o = new Command('npm run demo:fleet --')
    .description(
      'Roll a column rename out over a fleet of databases in waves, with one shard failing mid-backfill, while an app writes to every shard.',
    )
    .option('--shards <n>', 'databases in the fleet (at least 3)', positiveInt('--shards'), 16)
    .option('--rows <n>', 'rows in each shard’s users table', positiveInt('--rows'), 10_000)
    .option('--concurrency <n>', 'shards worked on at once (fleet --concurrency)', positiveInt('--concurrency'), 4)
    .option('--faulty <i>', 'the shard (1-based) whose backfill is made to fail (not the canary)', positiveInt('--faulty'), 4)
    .option('--batch-size <n>', 'rows per backfill batch', positiveInt('--batch-size'), 500)
    .option(
      '--max-rate <n>',
      'backfill rows/s per shard (keeps backfills running long enough to interrupt)',
      positiveInt('--max-rate'),
      4_000,
    )
    .parse(argv)
    .opts<DemoOptions>();
  if (o.shards < 3) throw new InvalidArgumentError('--shards must be at least 3 (a canary, the faulty shard and another)');
  if (o.faulty < 2 || o.faulty > o.shards)
    throw new InvalidArgumentError(`--faulty must be between 2 and --shards (${o.shards}): shard 1 is the canary`);
  return o;
}

const num = (n: number) => n.toLocaleString('en-US');
const secs = (s: number) => `${s.toFixed(1)} s`;
const shardName = (i: number) => `shard-${String(i).padStart(2, '0')}`;

function dbUrl(server: string, database: string): string {
  const u = new URL(server);
  u.pathname = `/${database}`;
  return u.toString();
}

async function withClient<T>(url: string, body: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'pgshift demo:fleet' });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

/** One template seeded once, then every shard copied from it: identical schemas and rows. */
async function createFleet(server: string, options: DemoOptions): Promise<FleetTarget[]> {
  await withClient(server, (c) => c.query(`CREATE DATABASE ${ident(TEMPLATE)}`));
  await withClient(dbUrl(server, TEMPLATE), async (c) => {
    await c.query(`CREATE TABLE users (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      email text NOT NULL,
      name text,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await c.query(
      `INSERT INTO users (email, name) SELECT 'user' || g || '@example.com', 'User ' || g FROM generate_series(1, $1::int) AS g`,
      [options.rows],
    );
    await c.query('ANALYZE users');
  });
  const targets: FleetTarget[] = [];
  await withClient(server, async (c) => {
    for (let i = 1; i <= options.shards; i++) {
      const db = `fleet_demo_${String(i).padStart(2, '0')}`;
      await c.query(`CREATE DATABASE ${ident(db)} TEMPLATE ${ident(TEMPLATE)}`);
      targets.push({ name: shardName(i), url: dbUrl(server, db) });
    }
  });
  return targets;
}

/** The app: on every shard, one writer per app version; each version owns half of the seeded rows. */
class FleetApp {
  readonly old = new Map<string, AppWriter>();
  readonly next = new Map<string, AppWriter>();

  constructor(
    private readonly targets: FleetTarget[],
    private readonly rows: number,
  ) {}

  private async startAll(into: Map<string, AppWriter>, label: string, column: string, parity: number): Promise<void> {
    await Promise.all(
      this.targets.map(async (t) => {
        const w = new AppWriter({
          url: t.url,
          label: `${label}@${t.name}`,
          table: 'users',
          key: 'id',
          column,
          ownsKey: (id) => id % 2 === parity,
          maxExistingId: this.rows,
          pauseMs: WRITER_PAUSE_MS,
          insertShare: 0.3,
        });
        await w.start();
        into.set(t.name, w);
      }),
    );
  }

  startOld = () => this.startAll(this.old, 'old-app', 'email', 1);
  startNew = () => this.startAll(this.next, 'new-app', 'email_address', 0);

  async stop(which: Map<string, AppWriter>): Promise<void> {
    await Promise.all([...which.values()].map((w) => w.stop()));
  }

  writes(): number {
    return [...this.old.values(), ...this.next.values()].reduce((n, w) => n + w.stats.inserts + w.stats.updates, 0);
  }

  writers(name: string): AppWriter[] {
    return [this.old.get(name), this.next.get(name)].filter((w): w is AppWriter => w !== undefined);
  }
}

/** A manual job on one shard: CREATE INDEX (not CONCURRENTLY) in a transaction left open, holding SHARE on users. */
class HeldLock {
  private client: pg.Client | null = null;
  taken: Promise<void> | null = null;

  constructor(private readonly url: string) {}

  take(): Promise<void> {
    this.taken ??= (async () => {
      this.client = new pg.Client({ connectionString: this.url, application_name: 'manual job (demo)' });
      await this.client.connect();
      await this.client.query('BEGIN');
      await this.client.query('CREATE INDEX users_name_idx ON users (name)');
    })();
    return this.taken;
  }

  async release(): Promise<void> {
    if (!this.client) return;
    await this.client.query('ROLLBACK');
    await this.client.end();
    this.client = null;
  }
}

function printAdvance(r: FleetAdvanceReport): void {
  for (const w of r.waves)
    console.log(`  ${w.phase} wave ${w.index + 1} (${w.targets.length === 1 ? w.targets[0] : `${w.targets.length} shards`}): ${w.result}`);
  const groups = new Map<string, string[]>();
  for (const t of r.targets) {
    const key = `${t.result}${t.to ? ` (now ${t.to})` : ''}`;
    groups.set(key, [...(groups.get(key) ?? []), t.name]);
  }
  for (const [key, names] of groups) console.log(`  ${key.padEnd(28)} ${names.join(' ')}`);
  for (const t of r.targets.filter((t) => t.error)) {
    console.log(
      `  ${t.name}: ${t.error!.code}${t.error!.sqlstate ? ` (SQLSTATE ${t.error!.sqlstate})` : ''}: ${t.error!.message.split('\n')[0]}`,
    );
  }
  console.log(`  exit code ${r.exitCode}; summary ${JSON.stringify(r.summary)}`);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv);
  const t0 = performance.now();
  const problems: string[] = [];
  const check = (ok: boolean, what: string) => {
    if (!ok) problems.push(what);
    console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}`);
  };

  const server = await startEmbeddedPostgres({ settings: { max_connections: 4 * options.shards + 40 } });
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'pgshift-fleet-demo-'));
  const planDir = path.join(workDir, 'migrations');
  let app: FleetApp | null = null;
  let lock: HeldLock | null = null;
  try {
    // The plans directory holds this plan only: it is what the fleet rolls out.
    await mkdir(planDir);
    await copyFile(PLAN_FILE, path.join(planDir, path.basename(PLAN_FILE)));
    const version = await withClient(
      server.url,
      async (c) => (await c.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version,
    );
    console.log(`PostgreSQL ${version}, embedded server on port ${server.port}`);
    console.log(`\nCreating ${options.shards} databases, each with users (${num(options.rows)} rows)…`);
    const targets = await createFleet(server.url, options);
    const targetsFile = path.join(workDir, 'fleet.json');
    await writeFile(targetsFile, JSON.stringify(targets, null, 2));
    console.log(`  ${targets.map((t) => t.name).join(' ')}`);
    console.log(`  targets file: [{ "name": "shard-01", "url": "postgres://…/fleet_demo_01" }, …]  (fleet.json)`);

    const faulty = targets[options.faulty - 1]!;
    lock = new HeldLock(faulty.url);
    const events: FleetEvent[] = [];
    const base: FleetOptions = {
      targets,
      dir: planDir,
      concurrency: options.concurrency,
      onFailure: 'halt',
      lockPolicy: LOCK,
      backfill: { batchSize: options.batchSize, maxRate: options.maxRate, maxAttempts: 3 },
      onEvent: (e) => {
        events.push(e);
        // The fault: once the faulty shard's backfill has copied a batch, the manual job takes its lock.
        if (
          e.kind === 'target-progress' &&
          e.name === faulty.name &&
          e.progress.kind === 'backfill' &&
          e.progress.rowsDone > 0 &&
          !e.progress.finished &&
          !lock!.taken
        ) {
          console.log(`  ⚡ ${faulty.name}: backfill at ${num(e.progress.rowsDone)} rows; a manual job opens a transaction there and runs`);
          console.log('     CREATE INDEX users_name_idx ON users (name)  (not CONCURRENTLY: holds SHARE on users until it ends)');
          void lock!.take().catch((error: unknown) => console.log(`     (the manual job failed: ${String(error)})`));
        }
      },
    };
    const cli = `pgshift fleet advance ${MIGRATION} --targets fleet.json --concurrency ${options.concurrency}`;
    app = new FleetApp(targets, options.rows);

    const advance = async (title: string, command: string, extra: FleetAdvanceOptions = {}): Promise<FleetAdvanceReport> => {
      console.log(`\n▶ ${title}`);
      console.log(`  $ ${command}`);
      const writes = app!.writes();
      const start = performance.now();
      const r = await fleetAdvance(base, { migration: MIGRATION, ...extra });
      printAdvance(r);
      console.log(
        `  took ${secs((performance.now() - start) / 1000)}; the app made ${num(app!.writes() - writes)} writes across the fleet meanwhile`,
      );
      return r;
    };

    console.log('\n● old app starts on every shard: writes email (updates odd ids, inserts rows)');
    await app.startOld();

    const expand = await advance('phase 1: expand (canary shard-01 first, then the rest)', cli);
    check(expand.exitCode === 0 && expand.phase === 'expand', 'every shard has expand');
    check(expand.waves.length === 2 && expand.waves[0]!.targets.length === 1, 'a canary wave of one shard ran before the rest');
    const dual = await advance('phase 2: dual-write', cli);
    check(dual.exitCode === 0 && dual.phase === 'dual-write', 'every shard has dual-write');

    console.log('\n● every shard dual-writes, so the new app can be deployed everywhere:');
    console.log('  it writes email_address (updates even ids, inserts rows)');
    await app.startNew();

    const backfillCli = `${cli} --batch-size ${options.batchSize} --max-rate ${options.maxRate} --max-attempts 3 ${LOCK_FLAGS}`;
    const failed = await advance(`phase 3: backfill; ${faulty.name} will hit a held lock mid-backfill (--on-failure halt)`, backfillCli);
    const faultyReport = failed.targets.find((t) => t.name === faulty.name)!;
    check(lock.taken !== null, `the lock was taken while ${faulty.name}'s backfill ran`);
    check(failed.exitCode === 1, 'fleet advance exited 1 (some failed)');
    check(
      faultyReport.result === 'failed' && faultyReport.to === 'dual-write',
      `${faulty.name} failed and is still at dual-write (${faultyReport.error?.code ?? 'no error'})`,
    );
    const halt = events.find((e): e is Extract<FleetEvent, { kind: 'halt' }> => e.kind === 'halt');
    check(
      halt?.cause === faulty.name,
      `the fleet halted because of ${faulty.name}${halt ? `; stopping after their batch: ${halt.stopping.join(', ') || 'none'}` : ''}`,
    );
    const notStarted = failed.targets.filter((t) => t.result === 'not-started').map((t) => t.name);
    console.log(`  left alone after the halt: ${notStarted.join(' ') || 'none'}`);

    const status = await fleetStatus(base, MIGRATION);
    console.log(`\n▶ where the fleet stands\n  $ pgshift fleet status ${MIGRATION} --targets fleet.json`);
    console.log(
      `  ${Object.entries(status.summary.byState)
        .map(([k, n]) => `${k}: ${n}`)
        .join(', ')}`,
    );
    const partial = status.targets.flatMap((t) =>
      t.migrations
        .filter((m) => m.state === 'dual-write' && (m.backfillSummary?.rowsDone ?? 0) > 0)
        .map((m) => `${t.name} ${num(m.backfillSummary!.rowsDone)} rows`),
    );
    console.log(`  backfills stopped part way (kept, resumed from their checkpoint): ${partial.join(', ') || 'none'}`);

    console.log(`\n▶ the fix: the manual job on ${faulty.name} is rolled back (its lock is released)`);
    await lock.release();

    const resumed = await advance('resume: the same command again', backfillCli);
    check(resumed.exitCode === 0 && resumed.phase === 'backfill', 'every shard has backfill');

    console.log(`\n▶ verify every shard\n  $ pgshift fleet verify ${MIGRATION} --targets fleet.json`);
    const verified = await fleetVerify(base, MIGRATION);
    const mismatches = verified.targets.reduce(
      (n, t) => n + ((t.value as { mismatches: number }[] | undefined) ?? []).reduce((m, v) => m + Number(v.mismatches), 0),
      0,
    );
    console.log(`  ${JSON.stringify(verified.summary)}, ${mismatches} mismatching rows`);
    check(verified.exitCode === 0 && mismatches === 0, 'every shard verified with 0 mismatches');

    console.log('\n■ the old app is retired everywhere (nothing may write email once contract drops it)');
    await app.stop(app.old);
    const contract = await advance('phase 4: contract (a fresh verification on each shard first)', cli);
    check(contract.exitCode === 0 && contract.phase === 'contract', 'every shard has contract');
    console.log('\n■ the new app stops');
    await app.stop(app.next);

    console.log('\n══ every shard, row by row ' + '═'.repeat(44));
    console.log('  shard      writes   rows  found  errors  email dropped');
    let lost = 0;
    let errors = 0;
    for (const t of targets) {
      const writers = app.writers(t.name);
      const [result, dropped] = await withClient(t.url, async (c): Promise<[WriteCheck, boolean]> => [
        await checkWrites(c, { name: 'users', key: 'id', column: 'email_address' }, writers),
        (
          await c.query(
            `SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = 'public.users'::regclass AND attname = 'email' AND NOT attisdropped`,
          )
        ).rowCount === 0,
      ]);
      const writes = writers.reduce((n, w) => n + w.stats.inserts + w.stats.updates, 0);
      const errs = writers.reduce((n, w) => n + w.stats.errors, 0);
      lost += result.issued - result.found;
      errors += errs;
      console.log(
        `  ${t.name}  ${num(writes).padStart(6)}  ${num(result.issued).padStart(5)}  ${num(result.found).padStart(5)}  ${String(errs).padStart(6)}  ${dropped ? 'yes' : 'NO'}`,
      );
      if (!dropped) problems.push(`${t.name}: column email still exists`);
      for (const m of result.missing.slice(0, 3)) console.log(`    id ${m.id}: expected ${m.expected}, found ${m.actual ?? 'NULL'}`);
      for (const w of writers) if (w.stats.lastError) console.log(`    ${w.stats.label} last error: ${w.stats.lastError}`);
    }
    check(lost === 0, `no write lost on any shard (${num(app.writes())} writes)`);
    check(errors === 0, 'no app write failed');
    console.log(`\ndemo total ${secs((performance.now() - t0) / 1000)}`);
  } catch (error) {
    problems.push(`the demo stopped with an error: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await lock?.release().catch(() => undefined);
    if (app) await Promise.allSettled([app.stop(app.old), app.stop(app.next)]);
    await server.stop().catch((error: unknown) => console.error(`Cleanup failed: ${String(error)}`));
    await rm(workDir, { recursive: true, force: true });
  }
  if (problems.length) {
    console.log('\nFAIL');
    for (const p of problems) console.log(`  - ${p}`);
  } else {
    console.log(
      `\nPASS: the rename reached every shard in lockstep, the failed shard resumed, and no write was lost on any of the ${options.shards} shards`,
    );
  }
  process.exitCode = problems.length ? 1 : 0;
}

await main();
