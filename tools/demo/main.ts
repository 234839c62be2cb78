import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import pg from 'pg';
import { progressReporter } from '../../src/cli/progress.js';
import { startEmbeddedPostgres } from '../embedded.js';
import type { Verification } from '../../src/ledger/ledger.js';
import { createLogger } from '../../src/logger.js';
import { TerminalLine } from '../../src/cli/terminal.js';
import { Pgshift } from '../../src/orchestrator.js';
import { loadMigrationFile } from '../../src/plan/load.js';
import type { Phase } from '../../src/plan/model.js';
import { ident } from '../../src/sql/ident.js';
import { AppWriter, checkWrites, type WriteCheck, type WriterStats } from './writers.js';

/**
 * `npm run demo`: renames users.email to email_address with pgshift while two app versions keep
 * writing, then checks row by row that no write was lost and prints PASS or FAIL.
 */

const PLAN_FILE = fileURLToPath(new URL('../../migrations/20261121_rename_users_email.json', import.meta.url));
const WRITER_PAUSE_MS = 5;
const WRITER_INSERT_SHARE = 0.3;

interface DemoOptions {
  rows: number;
  databaseUrl?: string;
  batchSize?: number;
}

interface DemoDatabase {
  url: string;
  where: string;
  close(): Promise<void>;
}

interface Timing {
  label: string;
  seconds: number;
  /** Writes the apps completed while this step ran: they were not blocked out. */
  appWrites: number;
}

interface WriterResult {
  stats: WriterStats;
  check: WriteCheck;
}

interface Report {
  serverVersion: string;
  where: string;
  rows: number;
  batchSize?: number;
  seedSeconds: number;
  timings: Timing[];
  backfill: { rowsDone: number; batches: number };
  verifications: { label: string; rowsChecked: number; mismatches: number; passed: boolean }[];
  writers: WriterResult[];
  allWrites: WriteCheck;
  schema: { emailDropped: boolean; emailAddressNotNull: boolean };
}

const num = (n: number) => n.toLocaleString('en-US');
const secs = (s: number) => `${s.toFixed(2)} s`;

function positiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} must be a positive integer`);
    return n;
  };
}

function parseOptions(argv: string[]): DemoOptions {
  return new Command('npm run demo --')
    .description('Rename users.email to email_address with pgshift while an old and a new app version keep writing.')
    .option('--rows <n>', 'rows in the users table', positiveInt('--rows'), 200_000)
    .option('--database-url <url>', 'use this server (a fresh database is created and dropped); default: start an embedded PostgreSQL')
    .option('--batch-size <n>', 'fixed rows per backfill batch (default: adaptive, as pgshift advance)', positiveInt('--batch-size'))
    .parse(argv)
    .opts<DemoOptions>();
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<connection string>';
  }
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? `${error.message} (SQLSTATE ${code})` : error.message;
}

async function withClient<T>(url: string, body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'pgshift demo' });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

/** An embedded server, or a fresh database on the given one; `close` removes either. */
async function openDatabase(serverUrl: string | undefined): Promise<DemoDatabase> {
  if (!serverUrl) {
    const server = await startEmbeddedPostgres();
    return { url: server.url, where: `embedded server on port ${server.port}`, close: () => server.stop() };
  }
  const name = `pgshift_demo_${randomBytes(4).toString('hex')}`;
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  await withClient(serverUrl, (c) => c.query(`CREATE DATABASE ${ident(name)}`));
  return {
    url: url.toString(),
    where: `database ${name} on ${redact(serverUrl)}`,
    close: async () => {
      await withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`));
    },
  };
}

async function seedUsers(pool: pg.Pool, rows: number): Promise<number> {
  const t0 = performance.now();
  await pool.query(`CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL,
    name text,
    created_at timestamptz NOT NULL DEFAULT now()
  )`);
  await pool.query(
    `INSERT INTO users (email, name) SELECT 'user' || g || '@example.com', 'User ' || g FROM generate_series(1, $1::int) AS g`,
    [rows],
  );
  // The backfill and verification size their progress (and ETA) from the planner's estimate.
  await pool.query('ANALYZE users');
  return (performance.now() - t0) / 1000;
}

/** The app versions that write during the migration; each owns a disjoint set of rows. */
class Apps {
  readonly started: AppWriter[] = [];
  private readonly running = new Set<AppWriter>();

  constructor(
    private readonly url: string,
    private readonly seededRows: number,
  ) {}

  async start(label: string, column: string, ownsKey: (id: number) => boolean): Promise<AppWriter> {
    const writer = new AppWriter({
      url: this.url,
      label,
      table: 'users',
      key: 'id',
      column,
      ownsKey,
      // Only seeded rows: rows one app inserts are updated by that app alone.
      maxExistingId: this.seededRows,
      pauseMs: WRITER_PAUSE_MS,
      insertShare: WRITER_INSERT_SHARE,
    });
    await writer.start();
    this.started.push(writer);
    this.running.add(writer);
    return writer;
  }

  async stop(writer: AppWriter): Promise<WriterStats> {
    this.running.delete(writer);
    return writer.stop();
  }

  async stopAll(): Promise<void> {
    await Promise.allSettled([...this.running].map((w) => this.stop(w)));
  }

  writes(): number {
    return this.started.reduce((sum, w) => sum + w.stats.inserts + w.stats.updates, 0);
  }
}

function describeWriter(stats: WriterStats): string {
  return `${num(stats.inserts)} inserts, ${num(stats.updates)} updates, ${stats.errors} errors`;
}

/** The migration itself: four `advance` calls and one `verify`, with the apps writing throughout. */
async function migrateUnderLoad(
  pgshift: Pgshift,
  migrationId: string,
  apps: Apps,
  options: { batchSize?: number; signal: AbortSignal; stopProgress: () => void },
): Promise<{ timings: Timing[]; verification: Verification }> {
  const timings: Timing[] = [];
  const step = async <T>(label: string, title: string, cli: string, body: () => Promise<T>): Promise<T> => {
    options.signal.throwIfAborted();
    console.log(`\n▶ ${title}`);
    console.log(`  $ ${cli}`);
    const writesBefore = apps.writes();
    const t0 = performance.now();
    try {
      return await body();
    } finally {
      options.stopProgress();
      const timing = { label, seconds: (performance.now() - t0) / 1000, appWrites: apps.writes() - writesBefore };
      timings.push(timing);
      console.log(`  took ${secs(timing.seconds)}; the apps completed ${num(timing.appWrites)} writes meanwhile`);
    }
  };
  const advance = (n: number, phase: Phase, cliOptions = '') =>
    step(phase, `pgshift advance  (phase ${n}/4: ${phase})`, `pgshift advance ${migrationId}${cliOptions}`, async () => {
      const ran = (await pgshift.advance({ migration: migrationId })).migrations[0]?.ran[0];
      if (ran?.phase !== phase) throw new Error(`advance was expected to run ${phase} but ran ${ran?.phase ?? 'nothing'}`);
    });

  console.log('\n● old app starts: writes email (updates odd ids, inserts new rows)');
  const oldApp = await apps.start('old-app', 'email', (id) => id % 2 === 1);

  await advance(1, 'expand');
  await advance(2, 'dual-write');

  console.log('\n● new app starts: writes email_address (updates even ids, inserts new rows);');
  console.log('  the dual-write trigger mirrors its writes into email, which is still NOT NULL');
  const newApp = await apps.start('new-app', 'email_address', (id) => id % 2 === 0);

  await advance(3, 'backfill', options.batchSize ? ` --batch-size ${options.batchSize}` : '');

  const verification = await step('verify', 'pgshift verify', `pgshift verify ${migrationId}`, async () => {
    const [result] = await pgshift.verify(migrationId);
    if (!result) throw new Error('verify returned no result');
    return result;
  });
  console.log(`  ${num(verification.rowsChecked)} rows checked, ${num(verification.mismatches)} mismatches`);

  console.log('\n■ old app retired: every instance that writes email must be gone before contract drops it');
  console.log('  (that is the expand/contract contract)');
  console.log(`  old app: ${describeWriter(await apps.stop(oldApp))}`);

  await advance(4, 'contract');
  console.log(`\n■ new app stopped: ${describeWriter(await apps.stop(newApp))}`);
  return { timings, verification };
}

function summarize(label: string, v: Verification | null | undefined): Report['verifications'][number] {
  // No verification newer than the explicit one means contract did not verify afresh.
  if (!v) return { label, rowsChecked: 0, mismatches: 0, passed: false };
  return { label, rowsChecked: v.rowsChecked, mismatches: v.mismatches, passed: v.passed };
}

async function checkSchema(pool: pg.Pool): Promise<Report['schema']> {
  const { rows } = await pool.query<{ attname: string; attnotnull: boolean }>(
    `SELECT attname, attnotnull FROM pg_catalog.pg_attribute
      WHERE attrelid = 'public.users'::regclass AND attnum > 0 AND NOT attisdropped AND attname IN ('email', 'email_address')`,
  );
  const column = (name: string) => rows.find((r) => r.attname === name);
  return { emailDropped: !column('email'), emailAddressNotNull: column('email_address')?.attnotnull === true };
}

async function runDemo(database: DemoDatabase, options: DemoOptions, signal: AbortSignal): Promise<Report> {
  const pool = new pg.Pool({ connectionString: database.url, max: 2, application_name: 'pgshift demo' });
  pool.on('error', () => undefined); // an idle client's error surfaces on the next query
  const log = createLogger({ level: 'warn' });
  const progress = progressReporter(log, process.stderr.isTTY ? new TerminalLine(process.stderr) : null);
  const { migration } = await loadMigrationFile(PLAN_FILE);
  const pgshift = new Pgshift({
    databaseUrl: database.url,
    migrations: [migration],
    log,
    onProgress: progress.onProgress,
    backfill: { batchSize: options.batchSize },
    signal,
  });
  const apps = new Apps(database.url, options.rows);
  try {
    const serverVersion = (await pool.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
    console.log(`PostgreSQL ${serverVersion}, ${database.where}`);
    console.log(`export DATABASE_URL=${redact(database.url)}   # for the pgshift commands shown below`);

    console.log(`\nCreating users with ${num(options.rows)} rows…`);
    const seedSeconds = await seedUsers(pool, options.rows);
    console.log(`  took ${secs(seedSeconds)}`);

    const { timings, verification } = await migrateUnderLoad(pgshift, migration.id, apps, {
      batchSize: options.batchSize,
      signal,
      stopProgress: progress.stop,
    });

    const [status] = await pgshift.status();
    const gate = status?.verification;
    const backfill = status?.backfill ?? [];
    const writers = await Promise.all(
      apps.started.map(async (w) => ({
        stats: w.stats,
        check: await checkWrites(pool, { name: 'users', key: 'id', column: 'email_address' }, [w]),
      })),
    );
    return {
      serverVersion,
      where: database.where,
      rows: options.rows,
      batchSize: options.batchSize,
      seedSeconds,
      timings,
      backfill: {
        rowsDone: backfill.reduce((sum, b) => sum + b.rowsDone, 0),
        batches: backfill.reduce((sum, b) => sum + b.batches, 0),
      },
      verifications: [summarize('explicit verify', verification), summarize('contract gate', gate?.id === verification.id ? null : gate)],
      writers,
      allWrites: await checkWrites(pool, { name: 'users', key: 'id', column: 'email_address' }, apps.started),
      schema: await checkSchema(pool),
    };
  } finally {
    progress.stop();
    await apps.stopAll();
    await pgshift.close();
    await pool.end();
  }
}

/** Every reason the run failed; empty means PASS. */
function failures(report: Report): string[] {
  const problems: string[] = [];
  for (const v of report.verifications) if (!v.passed) problems.push(`${v.label} did not pass (${v.mismatches} mismatches)`);
  if (report.allWrites.found !== report.allWrites.issued)
    problems.push(`${report.allWrites.issued - report.allWrites.found} written rows do not hold their last value in email_address`);
  for (const w of report.writers) if (w.stats.errors) problems.push(`${w.stats.label} had ${w.stats.errors} failed writes`);
  if (!report.schema.emailDropped) problems.push('column email still exists');
  if (!report.schema.emailAddressNotNull) problems.push('email_address is not NOT NULL');
  return problems;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => `  ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('   ')}`).join('\n');
}

function printReport(report: Report, totalSeconds: number): void {
  const migrationSeconds = report.timings.reduce((sum, t) => sum + t.seconds, 0);
  const migrationWrites = report.timings.reduce((sum, t) => sum + t.appWrites, 0);
  const writerRows = report.writers.map(({ stats, check }) => [
    stats.label,
    num(stats.inserts),
    num(stats.updates),
    num(check.issued),
    num(check.found),
    String(stats.errors),
  ]);
  const totals = report.writers.reduce(
    (t, { stats }) => ({ inserts: t.inserts + stats.inserts, updates: t.updates + stats.updates, errors: t.errors + stats.errors }),
    { inserts: 0, updates: 0, errors: 0 },
  );
  const yes = (ok: boolean) => (ok ? 'yes' : 'NO');

  console.log('\n══ report ' + '═'.repeat(60));
  console.log(`server           PostgreSQL ${report.serverVersion} (${report.where})`);
  console.log(
    `rows             ${num(report.rows)} seeded in ${secs(report.seedSeconds)}; backfill batches ${report.batchSize ? `of ${num(report.batchSize)}` : 'adaptive (200 ms target)'}`,
  );
  console.log('\nstep timings (the apps kept writing through every step):');
  console.log(
    table([
      ['step', 'time', 'app writes'],
      ...report.timings.map((t) => [t.label, secs(t.seconds), num(t.appWrites)]),
      ['migration total', secs(migrationSeconds), num(migrationWrites)],
      ['demo total (setup to checks)', secs(totalSeconds), ''],
    ]),
  );
  console.log(`\nbackfill         ${num(report.backfill.rowsDone)} rows copied in ${num(report.backfill.batches)} batches`);
  console.log('                 (rows the dual-write trigger had already synced need no copy)');
  for (const v of report.verifications)
    console.log(`${v.label.padEnd(16)} ${num(v.rowsChecked)} rows checked, ${num(v.mismatches)} mismatches${v.passed ? '' : ' — FAILED'}`);
  console.log(
    `schema           email dropped: ${yes(report.schema.emailDropped)}; email_address NOT NULL: ${yes(report.schema.emailAddressNotNull)}`,
  );
  console.log("\nwrites (rows = distinct rows written; found = rows whose email_address holds that writer's last value):");
  console.log(
    table([
      ['writer', 'inserts', 'updates', 'rows', 'found', 'errors'],
      ...writerRows,
      ['total', num(totals.inserts), num(totals.updates), num(report.allWrites.issued), num(report.allWrites.found), String(totals.errors)],
    ]),
  );
  for (const { stats } of report.writers) if (stats.lastError) console.log(`  ${stats.label} last error: ${stats.lastError}`);
  for (const m of report.allWrites.missing.slice(0, 5)) console.log(`  id ${m.id}: expected ${m.expected}, found ${m.actual ?? 'NULL'}`);
}

/** First Ctrl-C stops at the next safe point and cleans up; a second one exits at once. */
function interruptOnSigint(): AbortSignal {
  const controller = new AbortController();
  let first = 0;
  process.on('SIGINT', () => {
    process.exitCode = 130;
    // One Ctrl-C can arrive twice (from the terminal and relayed by a wrapper such as npx/tsx).
    if (controller.signal.aborted && Date.now() - first < 500) return;
    if (controller.signal.aborted) {
      console.error('\nSecond SIGINT: exiting without cleaning up.');
      process.exit(130);
    }
    console.error('\nSIGINT: stopping at the next safe point, then cleaning up (Ctrl-C again to exit at once)');
    first = Date.now();
    controller.abort(new Error('interrupted by SIGINT'));
  });
  return controller.signal;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv);
  const signal = interruptOnSigint();
  const t0 = performance.now();
  let problems: string[];
  try {
    const database = await openDatabase(options.databaseUrl);
    try {
      const report = await runDemo(database, options, signal);
      printReport(report, (performance.now() - t0) / 1000);
      problems = failures(report);
    } finally {
      await database.close().catch((error: unknown) => console.error(`Cleanup failed: ${describeError(error)}`));
    }
  } catch (error) {
    if (signal.aborted) {
      console.error('Interrupted; cleaned up.');
      process.exitCode = 130;
      return;
    }
    problems = [`the demo stopped with an error: ${describeError(error)}`];
  }
  if (problems.length) {
    console.log('\nFAIL');
    for (const p of problems) console.log(`  - ${p}`);
  } else {
    console.log('\nPASS: every write of both app versions survived the rename, and both verifications found 0 mismatches');
  }
  process.exitCode = problems.length ? 1 : 0;
}

await main();
