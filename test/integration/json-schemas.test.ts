import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, test } from 'vitest';
import { cli, spawnCli, type CliResult } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { planDir, renamePlan } from '../support/plans.js';
import { loadOutputSchemas, type OutputValidator } from '../support/output-schemas.js';

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
    const scratch = mkdtempSync(path.join(os.tmpdir(), 'pgshift-json-'));
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
  });

  test('the run covered every command with a schema, and each failure code it meant to', () => {
    expect([...seen.keys()].sort()).toEqual([...validator.commands].sort());
    expect([...errorsSeen].sort()).toEqual(
      [
        'contract_refused',
        'drift',
        'expectation_failed',
        'failure',
        'invalid_argument',
        'lint_input_unreadable',
        'migration_not_found',
        'orchestrator_busy',
        'phase_failed',
        'phase_order',
        'plan_invalid',
        'rollback_refused',
        'stamp_refused',
        'wait_timeout',
      ].sort(),
    );
  });
});
