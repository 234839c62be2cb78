// Plays a release pipeline against a fresh embedded PostgreSQL and prints the transcript that
// docs/pipelines.md shows: one deploy per phase (`advance --expect … --json`), a re-run of the
// first deploy (refused, exit 3), and the rollout's `wait` gate beside the backfill. Every command
// is the real CLI in its own process; every stdout is printed whole and checked against the
// shipped schema (schemas/<command>.schema.json).
//
//   npx tsx tools/pipeline-transcript.ts [rows]      (default 100000 rows in users)
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import pg from 'pg';
import { startEmbeddedPostgres } from './embedded.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ID = '20261121_rename_users_email';
const rows = Number(process.argv[2] ?? 100_000);

const ajv = new Ajv2020({ strict: true, allErrors: true, validateFormats: false });
for (const f of readdirSync(path.join(ROOT, 'schemas')).filter((n) => n.endsWith('.schema.json')))
  ajv.addSchema(JSON.parse(readFileSync(path.join(ROOT, 'schemas', f), 'utf8')) as object);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `pgshift <args>` in the project directory, as a pipeline job would (DATABASE_URL in the environment). */
function pgshift(project: string, url: string, args: string[], logLevel = 'warn'): Promise<Run> {
  return new Promise((resolve) => {
    // tsx by its full URL: the project directory has no node_modules of its own.
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(ROOT, 'src/cli/main.ts'), ...args], {
      cwd: project,
      env: { ...process.env, DATABASE_URL: url, PGSHIFT_LOG_LEVEL: logLevel },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** Prints one command with its stdout and exit code as a Markdown code block; fails when stdout does not fit its schema. */
function show(title: string, args: string[], r: Run): void {
  if (!r.stdout) throw new Error(`${args.join(' ')}: exit ${r.code}, nothing on stdout; stderr:\n${r.stderr}`);
  const check = ajv.getSchema(`${args[0]}.schema.json`);
  if (!check) throw new Error(`no schema for ${args[0]}`);
  if (!check(JSON.parse(r.stdout))) throw new Error(`${args.join(' ')}: stdout does not fit its schema: ${JSON.stringify(check.errors)}`);
  console.log(`${title}\n\n\`\`\`\n$ pgshift ${args.join(' ')}\n${r.stdout}$ echo $?\n${r.code}\n\`\`\`\n`);
  const lines = r.stderr.trim().split('\n').filter(Boolean);
  // A long log (the gate's polling) keeps its first three and last two lines.
  const kept = lines.length > 6 ? [...lines.slice(0, 3), `… (${lines.length - 5} more lines)`, ...lines.slice(-2)] : lines;
  if (kept.length) console.log(`stderr:\n\n\`\`\`\n${kept.join('\n')}\n\`\`\`\n`);
}

const server = await startEmbeddedPostgres();
const project = mkdtempSync(path.join(os.tmpdir(), 'pgshift-pipeline-'));
try {
  const db = new pg.Client({ connectionString: server.url });
  db.on('error', () => undefined);
  await db.connect();
  await db.query(`CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL)`);
  await db.query(`INSERT INTO users SELECT g, 'user' || g || '@example.com' FROM generate_series(1, $1::int) g`, [rows]);
  await db.query(`CREATE INDEX users_email ON users (email)`);
  await db.query(`ANALYZE users`);
  mkdirSync(path.join(project, 'migrations'));
  const plan = {
    id: ID,
    description: 'users.email becomes email_address',
    operations: [{ kind: 'renameColumn', table: 'users', from: 'email', to: 'email_address' }],
  };
  writeFileSync(path.join(project, 'migrations', `${ID}.json`), `${JSON.stringify(plan, null, 2)}\n`);
  const version = (await db.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v;
  console.log(
    `<!-- npx tsx tools/pipeline-transcript.ts ${rows}: PostgreSQL ${version}, users with ${rows} rows, ${new Date().toISOString()} -->\n`,
  );

  const deploy = (state: string) => ['advance', '--json', '--expect', `${ID}@${state}`];
  const step = async (title: string, args: string[], code: number) => {
    const r = await pgshift(project, server.url, args);
    show(title, args, r);
    if (r.code !== code) throw new Error(`${args.join(' ')}: exit ${r.code}, expected ${code}`);
  };

  await step('Deploy 1, expand:', deploy('pending'), 0);
  await step('Deploy 1 again (a re-run of the old pipeline): refused, nothing changed:', deploy('pending'), 3);
  await step('Deploy 2, dual-write:', deploy('expand'), 0);

  // Deploy 3 runs the backfill; the rollout's gate starts once the backfill has done a batch.
  const backfillArgs = deploy('dual-write');
  const backfill = pgshift(project, server.url, backfillArgs);
  // The gate starts once the backfill run is under way, as a rollout job that starts beside the migrate job would.
  for (;;) {
    const running = await db
      .query(`SELECT 1 FROM pgshift.phase_runs WHERE migration_id = $1 AND phase = 'backfill' AND status = 'running'`, [ID])
      .then(
        (r) => r.rowCount! > 0,
        () => false,
      );
    if (running) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const gateArgs = ['wait', ID, '--for', 'backfill', '--timeout', '600', '--json'];
  const gate = pgshift(project, server.url, gateArgs, 'info');
  const [b, g] = await Promise.all([backfill, gate]);
  show('Deploy 3, backfill:', backfillArgs, b);
  show("The gate of deploy 3's rollout, started while that backfill ran:", gateArgs, g);
  if (b.code !== 0 || g.code !== 0) throw new Error(`deploy 3: exit ${b.code}, gate exit ${g.code}`);

  await step('Deploy 4, contract (after the old app version is gone; it verifies every row first):', deploy('backfill'), 0);
  await step('Deploy 4 again: refused, nothing changed:', deploy('backfill'), 3);
  await db.end();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  rmSync(project, { recursive: true, force: true });
  await server.stop();
}
