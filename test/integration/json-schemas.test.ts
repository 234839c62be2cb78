import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, test } from 'vitest';
import { acquireOrchestratorLock } from '../../src/db/advisory-lock.js';
import { LockNotReleasedError } from '../../src/errors.js';
import { cli, spawnCli, type CliResult } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { planDir, renamePlan } from '../support/plans.js';
import { tempDir } from '../support/temp.js';
import { loadOutputSchemas, type OutputValidator } from '../support/output-schemas.js';
import { PGBOUNCER_MISSING, usePgBouncers } from '../support/pgbouncer.js';
import { until } from '../support/wait.js';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const validator: OutputValidator = loadOutputSchemas();
/** command → exit codes seen, and the error codes seen: what the run covered, checked at the end. */
const seen = new Map<string, Set<number>>();
const errorsSeen = new Set<string>();
/** Every document validated, for the check that the schemas refuse them with a promised field taken out. */
const realDocuments: { command: string; doc: Record<string, unknown> }[] = [];

/**
 * Checks one CLI run: the exit code, exactly one JSON document on stdout (one object, then one
 * newline), valid against the command's shipped schema; an error document's exitCode is the
 * process's. Returns the document.
 */
function documentOf(command: string, r: CliResult, exitCode: number, error?: string): Record<string, unknown> {
  expect(r.code, `${command}: ${r.stderr}`).toBe(exitCode);
  expect(r.stdout.endsWith('}\n'), `${command}: stdout is one JSON object and a newline: ${r.stdout}`).toBe(true);
  const doc = JSON.parse(r.stdout) as Record<string, unknown>;
  expect(typeof doc === 'object' && doc !== null && !Array.isArray(doc)).toBe(true);
  const problems = validator.validate(command, doc);
  expect(problems, `${command} output against ${command}.schema.json:\n${r.stdout}`).toEqual([]);
  if (error !== undefined) {
    expect(doc).toMatchObject({ ok: false, exitCode, error });
    errorsSeen.add(error);
  }
  realDocuments.push({ command, doc });
  if (!seen.has(command)) seen.set(command, new Set());
  seen.get(command)!.add(exitCode);
  return doc;
}

describe('every command prints one JSON document that its shipped schema accepts, failures included', () => {
  const db = useDatabase();
  const A = '0001_users_email';
  const B = '0002_users_name';
  const dir = planDir({
    ...renamePlan(A, { table: 'users', from: 'email', to: 'email_address' }),
    ...renamePlan(B, { table: 'users', from: 'name', to: 'full_name' }),
  });
  const run = (...args: string[]) => cli([...args, '--json'], { url: db.url, dir });
  const holder: { client: pg.Client | null } = { client: null };

  afterAll(async () => {
    await holder.client?.end();
  });

  test('a real lifecycle of two migrations, with every documented refusal on the way', async () => {
    await db.query(`CREATE TABLE users (id bigint PRIMARY KEY, email text, name text)`);
    await db.query(`INSERT INTO users SELECT g, 'u' || g || '@example.com', 'name ' || g FROM generate_series(1, 3000) g`);
    await db.query(`ANALYZE users`);

    // Offline commands: new (with the catalog), lint (clean, findings, unreadable input).
    const scratch = tempDir('json');
    const created = documentOf(
      'new',
      await cli(['new', 'users_email_not_null', '--recipe', 'setNotNull', '--table', 'users', '--column', 'email', '--json'], {
        url: db.url,
        dir: scratch,
      }),
      0,
    );
    expect(created).toMatchObject({ ok: true, recipe: 'setNotNull', catalog: true });
    writeFileSync(path.join(scratch, 'clean.sql'), 'CREATE TABLE t (id bigint PRIMARY KEY);\n');
    writeFileSync(path.join(scratch, 'risky.sql'), 'CREATE INDEX users_email ON users (email);\n');
    documentOf('lint', await run('lint', path.join(scratch, 'clean.sql')), 0);
    const risky = documentOf('lint', await run('lint', path.join(scratch, 'risky.sql'), '--big-table', '1'), 3);
    expect(risky).toMatchObject({ ok: false, errors: 1 });
    documentOf('lint', await run('lint', path.join(scratch, 'missing.sql')), 2, 'lint_input_unreadable');

    // Before anything ran: plan (summary and --sql), status, a dry run.
    const plan = documentOf('plan', await run('plan', A), 0);
    expect(plan).toMatchObject({ ok: true, id: A, state: 'pending' });
    documentOf('plan', await run('plan', A, '--phase', 'contract', '--sql'), 0);
    documentOf('status', await run('status'), 0);
    const dry = documentOf('advance', await run('advance', A, '--dry-run'), 0);
    expect(dry).toMatchObject({ ok: true, dryRun: true, migrations: [{ id: A, wouldRun: [{ phase: 'expand' }] }] });

    // One phase per deploy, each stating what it expects; a repeated deploy is refused.
    documentOf('advance', await run('advance', A, '--expect', `${A}@pending`), 0);
    const repeated = documentOf('advance', await run('advance', A, '--expect', `${A}@pending`), 3, 'expectation_failed');
    expect(repeated.mismatches).toEqual([{ migration: A, expected: 'pending', actual: 'expand' }]);
    documentOf('advance', await run('advance', A, '--expect', `${A}@expand`), 0);

    // Busy: another session holds the orchestrator lock.
    holder.client = new pg.Client({ connectionString: db.url, application_name: 'json-schemas holder' });
    await holder.client.connect();
    await holder.client.query(`SELECT pg_advisory_lock(x'70677368'::int, x'69667421'::int)`);
    const busy = documentOf('advance', await run('advance', A), 4, 'orchestrator_busy');
    expect(busy.holderApplication).toBe('json-schemas holder');
    const gaveUp = documentOf('advance', await run('advance', A, '--wait', '--timeout', '0.2'), 1, 'wait_timeout');
    expect(gaveUp.migration).toBeNull();
    documentOf('rollback', await run('rollback', A), 4, 'orchestrator_busy');
    await holder.client.end();
    holder.client = null;

    // Control of the backfill, before it runs: tune, pause, resume.
    const tuned = documentOf('tune', await run('tune', A, '--batch-size', '500', '--max-rate', 'off'), 0);
    expect(tuned).toMatchObject({ ok: true, migration: A, settings: { batchSize: 500, maxRate: null } });
    expect(documentOf('pause', await run('pause', A), 0)).toMatchObject({ paused: true });
    expect(documentOf('resume', await run('resume', A), 0)).toMatchObject({ paused: false });
    documentOf('tune', await run('tune', A), 2, 'invalid_argument');

    // wait: not there within the timeout; verify out of order.
    const late = documentOf('wait', await run('wait', A, '--for', 'backfill', '--timeout', '0.2', '--poll', '50'), 1, 'wait_timeout');
    expect(late).toMatchObject({ migration: A, target: 'backfill', state: 'dual-write' });
    documentOf('verify', await run('verify', A), 3, 'phase_order');

    // The backfill, as a real process (its progress goes to stderr, never stdout).
    const backfill = await spawnCli(['advance', A, '--expect', `${A}@dual-write`, '--json'], { url: db.url, dir }).done;
    expect(documentOf('advance', backfill, 0)).toMatchObject({ migrations: [{ id: A, state: 'backfill', ran: [{ phase: 'backfill' }] }] });
    expect(documentOf('wait', await run('wait', A, '--for', 'backfill'), 0)).toMatchObject({ ok: true, migration: A, state: 'backfill' });
    documentOf('status', await run('status', A), 0);
    expect(documentOf('verify', await run('verify', A), 0)).toMatchObject({ ok: true, verifications: [{ passed: true }] });

    // A row whose new column differs from the old: verify exits 3 with its result, contract is refused.
    await db.query(`ALTER TABLE users DISABLE TRIGGER USER`);
    await db.query(`UPDATE users SET email_address = 'tampered' WHERE id = 7`);
    await db.query(`ALTER TABLE users ENABLE TRIGGER USER`);
    expect(documentOf('verify', await run('verify', A), 3)).toMatchObject({ ok: false, verifications: [{ passed: false, mismatches: 1 }] });
    const refused = documentOf('advance', await run('advance', A), 3, 'contract_refused');
    expect(refused).toMatchObject({ migration: A, mismatches: 1 });
    await db.query(`UPDATE users SET email = email WHERE id = 7`);
    expect(
      documentOf('wait', await run('wait', A, '--for', 'verified', '--timeout', '0.2', '--poll', '50'), 1, 'wait_timeout'),
    ).toMatchObject({ target: 'verified' });
    documentOf('advance', await run('advance', A), 0);
    documentOf('rollback', await run('rollback', A), 3, 'rollback_refused');
    documentOf('tune', await run('tune', A, '--batch-size', 'auto'), 3, 'phase_order');

    // B: expand done by hand and stamped; stamping out of order is refused.
    documentOf('stamp', await run('stamp', B, '--phase', 'expand'), 3, 'stamp_refused');
    await db.query(`ALTER TABLE users ADD COLUMN full_name text`);
    const stamped = documentOf('stamp', await run('stamp', B, '--phase', 'expand'), 0);
    expect(stamped).toMatchObject({ ok: true, id: B, from: 'pending', state: 'expand', stamped: [{ phase: 'expand' }] });
    documentOf('stamp', await run('stamp', B, '--phase', 'backfill'), 3, 'phase_order');
    documentOf('advance', await run('advance', B), 0);

    // Drift: pgshift's dual-write trigger disabled by hand.
    const [trigger] = await db.query<{ tgname: string }>(
      `SELECT tgname FROM pg_trigger WHERE tgrelid = 'users'::regclass AND tgname LIKE 'pgshift_sync_%'`,
    );
    await db.query(`ALTER TABLE users DISABLE TRIGGER ${trigger!.tgname}`);
    const drift = documentOf('advance', await run('advance', B), 3, 'drift');
    expect(drift.migration).toBe(B);
    await db.query(`ALTER TABLE users ENABLE TRIGGER ${trigger!.tgname}`);

    // An SQL error in a phase names the migration and the phase.
    await db.query(`ALTER TABLE users DISABLE TRIGGER USER`);
    await db.query(`UPDATE users SET name = 'x' WHERE id = 1`);
    await db.query(`ALTER TABLE users ENABLE TRIGGER USER`);
    await db.query(`ALTER TABLE users ADD CONSTRAINT no_x CHECK (full_name IS DISTINCT FROM 'x') NOT VALID`);
    const failed = documentOf('advance', await run('advance', B), 1, 'phase_failed');
    expect(failed).toMatchObject({ migration: B, phase: 'backfill', sqlstate: '23514', constraint: 'no_x' });
    await db.query(`ALTER TABLE users DROP CONSTRAINT no_x`);
    expect(documentOf('rollback', await run('rollback', B), 0)).toMatchObject({ ok: true, id: B, from: 'dual-write', state: 'pending' });
    documentOf('history', await run('history'), 0);
    documentOf('history', await run('history', A), 0);

    // Invalid input: a bad plan, an unknown migration, a bad argument.
    const bad = planDir({
      '0001_bad.json': { id: '0001_bad', operations: [{ kind: 'renameColumn', table: 'users', from: 'email', to: 'x', colour: 'red' }] },
    });
    documentOf('status', await cli(['status', '--json'], { url: db.url, dir: bad }), 2, 'plan_invalid');
    documentOf('plan', await run('plan', 'nope'), 2, 'migration_not_found');
    documentOf('advance', await run('advance', '--batch-size', '0'), 2, 'invalid_argument');
    documentOf('wait', await run('wait', A), 2, 'invalid_argument');
    documentOf('new', await cli(['new', 'bad name!', '--json'], { url: db.url, dir: scratch }), 2, 'invalid_argument');

    // No server: a network error, never a SQLSTATE.
    const nowhere = `postgres://postgres@127.0.0.1:${await closedPort()}/postgres`;
    const refusedConnection = documentOf('status', await cli(['status', '--json'], { url: nowhere, dir }), 1, 'failure');
    expect(refusedConnection).toMatchObject({ networkError: 'ECONNREFUSED' });
    expect(refusedConnection).not.toHaveProperty('sqlstate');
    documentOf('advance', await cli(['advance', '--json'], { url: nowhere, dir }), 1, 'failure');
  }, 600_000);

  test('the failures that need a lock held, a second process, a changed plan or a newer ledger', async () => {
    const C = '0003_items_label';
    const D = '0004_items_code';
    await db.query(`CREATE TABLE items (id bigint PRIMARY KEY, label text, code text)`);
    await db.query(`INSERT INTO items SELECT g, 'item ' || g, 'c' || (g % 10) FROM generate_series(1, 3000) g`);
    await db.query(`ANALYZE items`);
    const plans = planDir({
      ...renamePlan(C, { table: 'items', from: 'label', to: 'title' }),
      [`${D}.json`]: {
        id: D,
        operations: [{ kind: 'createIndex', name: 'items_code_key', table: 'items', columns: ['code'], unique: true }],
      },
    });
    const go = (...args: string[]) => cli([...args, '--json'], { url: db.url, dir: plans });
    const spawned = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnCli([...args, '--json'], { url: db.url, dir: plans, env });
    const batchesDone = async () =>
      Number(
        (
          await db.query<{ n: string }>(`SELECT coalesce(sum(batches), 0) AS n FROM pgshift.backfill_progress WHERE migration_id = $1`, [C])
        )[0]!.n,
      );
    /** A `wait` process that has polled the ledger at least once (its first snapshot fixes which runs are history). */
    const waiting = async (target: string) => {
      const w = spawned(['wait', C, '--for', target, '--poll', '50', '--timeout', '120'], { PGSHIFT_LOG_LEVEL: 'info' });
      let stderr = '';
      w.child.stderr!.on('data', (d) => (stderr += d));
      await until(async () => stderr.includes(`waiting for ${target}`), `the wait for ${target} to poll`);
      return w;
    };

    // A strong lock that cannot be had: another session reads the table in an open transaction.
    holder.client = new pg.Client({ connectionString: db.url, application_name: 'json-schemas reader' });
    await holder.client.connect();
    await holder.client.query(`BEGIN`);
    await holder.client.query(`SELECT count(*) FROM items`);
    const timedOut = documentOf(
      'advance',
      await go('advance', C, '--lock-timeout', '50', '--lock-attempts', '2', '--lock-max-delay', '10'),
      1,
      'lock_timeout',
    );
    expect(timedOut).toMatchObject({ attempts: 2, lockTimeoutMs: 50, blockers: [{ application: 'json-schemas reader' }] });
    await holder.client.query(`ROLLBACK`);
    await holder.client.end();
    holder.client = null;

    // The plan edited after its expand ran.
    documentOf('advance', await go('advance', C), 0);
    const planFile = path.join(plans, `${C}.json`);
    const original = readFileSync(planFile, 'utf8');
    writeFileSync(planFile, original.replace('"title"', '"heading"'));
    expect(documentOf('advance', await go('advance', C), 2, 'plan_changed')).toMatchObject({ migration: C, phase: 'expand' });
    writeFileSync(planFile, original);

    // A backfill stopped by SIGTERM after a few batches: interrupted, with its checkpoint.
    documentOf('advance', await go('advance', C), 0);
    const backfill = spawned(['advance', C, '--batch-size', '100', '--batch-delay', '30']);
    await until(async () => (await batchesDone()) >= 2, 'the backfill to run two batches');
    backfill.child.kill('SIGTERM');
    const stopped = documentOf('advance', await backfill.done, 1, 'interrupted');
    expect(stopped).toMatchObject({ migration: C, phase: 'backfill' });
    expect(stopped.cursor).not.toBeNull();

    // A wait stopped by SIGTERM.
    const stoppedWait = await waiting('backfill');
    stoppedWait.child.kill('SIGTERM');
    expect(documentOf('wait', await stoppedWait.done, 1, 'interrupted')).toMatchObject({ migration: C, phase: 'wait', cursor: null });

    // The run a wait is watching fails (a row the backfill has not reached yet breaks a constraint).
    await db.query(`ALTER TABLE items DISABLE TRIGGER USER`);
    await db.query(`UPDATE items SET label = 'x' WHERE id = 3000`);
    await db.query(`ALTER TABLE items ENABLE TRIGGER USER`);
    await db.query(`ALTER TABLE items ADD CONSTRAINT no_x CHECK (title IS DISTINCT FROM 'x') NOT VALID`);
    const watcher = await waiting('backfill');
    documentOf('advance', await go('advance', C), 1, 'phase_failed');
    const watched = documentOf('wait', await watcher.done, 1, 'wait_run_failed');
    expect(watched).toMatchObject({ migration: C, target: 'backfill', run: { phase: 'backfill', status: 'failed' } });
    await db.query(`ALTER TABLE items DROP CONSTRAINT no_x`);

    // The migration a wait is watching is rolled back: it can no longer get there.
    const hopeful = await waiting('contract');
    documentOf('rollback', await go('rollback', C), 0);
    expect(documentOf('wait', await hopeful.done, 3, 'wait_unreachable')).toMatchObject({
      migration: C,
      target: 'contract',
      state: 'pending',
    });

    // A unique index over duplicate values.
    const duplicates = documentOf('advance', await go('advance', D), 1, 'unique_index_duplicates');
    expect(duplicates).toMatchObject({ sqlstate: '23505', columns: ['code'] });

    // A ledger written by a newer pgshift.
    await db.query(`INSERT INTO pgshift.ledger_version (version) VALUES (999)`);
    expect(documentOf('advance', await go('advance', C), 1, 'ledger_too_new')).toMatchObject({ found: 999 });
    await db.query(`DELETE FROM pgshift.ledger_version WHERE version = 999`);

    // A well-formed plan that does not fit this database: the column is not there.
    const misfit = planDir(renamePlan('0005_items_colour', { table: 'items', from: 'colour', to: 'color' }));
    const rejected = documentOf(
      'plan',
      await cli(['plan', '0005_items_colour', '--json'], { url: db.url, dir: misfit }),
      2,
      'plan_rejected',
    );
    expect(rejected).toMatchObject({ migration: '0005_items_colour' });

    // An unlock that released nothing (a pooler's reset took the lock first): the real error, rendered
    // as the CLI renders every PgshiftError (`{ ok: false, exitCode, ...error.toJSON() }`); no CLI run can provoke it.
    const lock = await acquireOrchestratorLock({ connectionString: db.url });
    await lock.client.query('SELECT pg_advisory_unlock_all()');
    const notReleased = await lock.release().then(
      () => null,
      (e: unknown) => e,
    );
    expect(notReleased).toBeInstanceOf(LockNotReleasedError);
    const rendered = JSON.parse(
      JSON.stringify({
        ok: false,
        exitCode: (notReleased as LockNotReleasedError).exitCode,
        ...(notReleased as LockNotReleasedError).toJSON(),
      }),
    ) as Record<string, unknown>;
    expect(validator.validate('error', rendered), JSON.stringify(rendered)).toEqual([]);
    realDocuments.push({ command: 'error', doc: rendered });
    errorsSeen.add('lock_not_released');
  }, 600_000);

  test('fleet: a status over the database as a fleet of one, and an invalid targets file', async () => {
    const scratch = tempDir('json-fleet');
    const targets = path.join(scratch, 'fleet.json');
    writeFileSync(targets, JSON.stringify([{ name: 'only', url: db.url }]));
    const status = documentOf('fleet', await run('fleet', 'status', '--targets', targets), 0);
    expect(status).toMatchObject({ ok: true, command: 'fleet status', targets: [{ name: 'only' }] });
    const wait = documentOf('fleet', await run('fleet', 'wait', A, '--for', 'expand', '--targets', targets), 0);
    expect(wait).toMatchObject({ ok: true, command: 'fleet wait', migration: A });
    const bad = path.join(scratch, 'bad.json');
    writeFileSync(bad, JSON.stringify([{ name: 'only' }]));
    documentOf('fleet', await run('fleet', 'status', '--targets', bad), 2, 'fleet_targets_invalid');
  }, 600_000);

  test('the run covered every command with a schema, and each failure code it meant to', () => {
    expect([...seen.keys()].sort()).toEqual([...validator.commands].sort());
    expect([...errorsSeen].sort()).toEqual(
      [
        'contract_refused',
        'drift',
        'expectation_failed',
        'failure',
        'fleet_targets_invalid',
        'interrupted',
        'invalid_argument',
        'ledger_too_new',
        'lint_input_unreadable',
        'lock_not_released',
        'lock_timeout',
        'migration_not_found',
        'orchestrator_busy',
        'phase_failed',
        'phase_order',
        'plan_changed',
        'plan_invalid',
        'plan_rejected',
        'rollback_refused',
        'stamp_refused',
        'unique_index_duplicates',
        'wait_run_failed',
        'wait_timeout',
        'wait_unreachable',
      ].sort(),
    );
  });

  test('each real document is refused once a field it promises is taken out: error, migration, id, ok', () => {
    let checked = 0;
    for (const { command, doc } of realDocuments) {
      for (const key of ['error', 'message', 'exitCode', 'migration', 'id', 'ok']) {
        if (!(key in doc)) continue;
        const { [key]: _dropped, ...without } = doc;
        expect(validator.validate(command, without), `${command} without ${key}: ${JSON.stringify(without)}`).not.toEqual([]);
        checked += 1;
      }
    }
    // Every failure document lost its error code at least once, and so did the documents naming a migration.
    expect(realDocuments.filter((d) => d.doc.ok === false && 'error' in d.doc).length).toBeGreaterThan(0);
    expect(checked).toBeGreaterThan(realDocuments.length);
    console.log(`json-schemas: ${realDocuments.length} real documents validated, ${checked} stripped copies refused`);
  });
});

describe(`through a transaction-mode PgBouncer, the refusal is a JSON document its schema accepts${PGBOUNCER_MISSING ? ` (${PGBOUNCER_MISSING})` : ''}`, () => {
  if (PGBOUNCER_MISSING) {
    test.skip(PGBOUNCER_MISSING, () => undefined);
    return;
  }
  const db = useDatabase();
  const bouncers = usePgBouncers(() => db.url, ['transaction']);
  const dir = planDir(renamePlan('0001_things_name', { table: 'things', from: 'name', to: 'title' }));

  test.each([['advance'], ['rollback', '0001_things_name'], ['verify'], ['tune', '0001_things_name', '--batch-size', '100']])(
    '%s … --json exits 2 with connection_pooled',
    async (...args) => {
      await db.query(`CREATE TABLE IF NOT EXISTS things (id bigint PRIMARY KEY, name text)`);
      const r = await cli([...args, '--json'], { url: bouncers.transaction!.through(db.url), dir });
      expect(r.code, r.stderr).toBe(2);
      const doc = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(doc).toMatchObject({ ok: false, exitCode: 2, error: 'connection_pooled', poolMode: 'transaction' });
      const validator = loadOutputSchemas();
      expect(validator.validate(args[0]!, doc), r.stdout).toEqual([]);
      const { error: _e, ...without } = doc;
      expect(validator.validate(args[0]!, without)).not.toEqual([]);
    },
  );
});
