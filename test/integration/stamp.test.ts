import pg from 'pg';
import { beforeAll, describe, expect, test } from 'vitest';
import { cli } from '../support/cli.js';
import { createTestDatabase, useDatabase, type TestDatabase } from '../support/database.js';
import { planDir, renamePlan } from '../support/plans.js';
import { LEDGER_MIGRATIONS, LEDGER_VERSION } from '../../src/ledger/schema.js';

/** The DDL pgshift shows for a phase (a DBA adopting pgshift may have run it by hand); keyset batches left out. */
async function ddlOf(url: string, dir: string, id: string, phase: string): Promise<string[]> {
  const plan = await cli(['plan', id, '--phase', phase, '--json'], { url, dir });
  expect(plan.code, plan.stderr).toBe(0);
  return plan
    .json<{ phases: { statements: { sql: string; transaction: string }[] }[] }>()
    .phases[0]!.statements.filter((s) => s.transaction !== 'per-batch')
    .map((s) => s.sql);
}

async function runByHand(db: TestDatabase, statements: string[]): Promise<void> {
  for (const sql of statements) await db.query(sql);
}

/** Changes a value bypassing the dual-write trigger, so old and new disagree. */
async function desync(db: TestDatabase, sql: string): Promise<void> {
  const client = await db.pool.connect();
  try {
    await client.query('SET session_replication_role = replica');
    await client.query(sql);
  } finally {
    await client.query('RESET session_replication_role');
    client.release();
  }
}

const columnsOf = async (db: TestDatabase, table: string) =>
  (
    await db.query<{ attname: string }>(
      `SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
      [table],
    )
  ).map((c) => c.attname);

describe('stamp: adopting phases done by hand', () => {
  const db = useDatabase();
  const id = '20261201_rename_email';
  let dir: string;

  beforeAll(async () => {
    await db.query(`CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, name text)`);
    await db.query(`INSERT INTO users SELECT g, 'u' || g || '@example.com', 'n' || g FROM generate_series(1, 1000) g`);
    dir = planDir({
      ...renamePlan(id, { table: 'users', from: 'email', to: 'email_address' }),
      ...renamePlan('20261202_rename_name', { table: 'users', from: 'name', to: 'full_name' }),
    });
  });

  test('expand, dual-write and backfill done by hand are stamped; contract still verifies, refuses a mismatch, then contracts', async () => {
    await runByHand(db, await ddlOf(db.url, dir, id, 'expand'));

    const early = await cli(['stamp', id, '--phase', 'dual-write', '--json'], { url: db.url, dir });
    expect(early.code).toBe(3);
    expect(early.json()).toMatchObject({ error: 'phase_order', migration: id });
    expect(early.stderr).toContain('cannot stamp dual-write before expand (now: pending): phases are stamped in order; stamp expand first');

    const expand = await cli(['stamp', id, '--phase', 'expand'], { url: db.url, dir });
    expect(expand.code, expand.stderr).toBe(0);
    expect(expand.stdout).toContain(`${id}: expand stamped done (not run)`);
    expect(expand.stdout).toContain(`${id}: now expand; next: dual-write`);

    // A sync trigger of the user's own would not do: contract checks and drops pgshift's by name.
    const noTrigger = await cli(['stamp', id, '--phase', 'dual-write', '--json'], { url: db.url, dir });
    expect(noTrigger.code).toBe(3);
    expect(noTrigger.json()).toMatchObject({ error: 'stamp_refused', migration: id, phase: 'dual-write' });
    expect(noTrigger.stderr).toMatch(
      /contract checks pgshift's own dual-write trigger\(s\) by name.*pgshift_sync_[0-9a-f]{12} on users \(missing\)/,
    );

    await runByHand(db, await ddlOf(db.url, dir, id, 'dual-write'));
    expect((await cli(['stamp', id, '--phase', 'dual-write'], { url: db.url, dir })).code).toBe(0);

    await db.query(`UPDATE users SET email_address = email`);
    await runByHand(db, await ddlOf(db.url, dir, id, 'backfill'));
    await desync(db, `UPDATE users SET email_address = 'wrong' WHERE id = 7`);
    const backfill = await cli(['stamp', id, '--phase', 'backfill', '--json'], { url: db.url, dir });
    expect(backfill.code, backfill.stderr).toBe(0);
    expect(backfill.json()).toMatchObject({
      ok: true,
      id,
      from: 'dual-write',
      state: 'backfill',
      next: 'contract',
      stamped: [{ phase: 'backfill' }],
    });
    expect(JSON.stringify(backfill.json())).toContain('contract still verifies every row');

    const refused = await cli(['advance', id, '--json'], { url: db.url, dir });
    expect(refused.code).toBe(3);
    expect(refused.json()).toMatchObject({ error: 'contract_refused', mismatches: 1, sampleKeys: ['7'] });
    expect(await columnsOf(db, 'users')).toContain('email');

    await desync(db, `UPDATE users SET email_address = email WHERE id = 7`);
    const contract = await cli(['advance', id, '--json'], { url: db.url, dir });
    expect(contract.code, contract.stderr).toBe(0);
    expect(contract.json()).toMatchObject({
      migrations: [{ id, state: 'contract', ran: [{ phase: 'contract', details: { verification: { rowsChecked: 1000 } } }] }],
    });
    expect(await columnsOf(db, 'users')).toEqual(['id', 'name', 'email_address']);

    const history = await cli(['history', id, '--json'], { url: db.url, dir });
    const runs = history.json<{
      runs: { action: string; phase: string; status: string; application: string; host: string; pid: number }[];
    }>().runs;
    expect(runs.filter((r) => r.action !== 'verify').map((r) => [r.action, r.phase, r.status])).toEqual([
      ['stamp', 'expand', 'succeeded'],
      ['stamp', 'dual-write', 'succeeded'],
      ['stamp', 'backfill', 'succeeded'],
      ['apply', 'contract', 'refused'],
      ['apply', 'contract', 'succeeded'],
    ]);
    expect(runs[0]).toMatchObject({ application: 'pgshift stamp', pid: process.pid });
    expect((await cli(['history', id], { url: db.url, dir })).stdout).toMatch(/stamp\s+backfill\s+succeeded/);

    const status = await cli(['status', id, '--json'], { url: db.url, dir });
    expect(status.json()).toMatchObject({
      migrations: [{ id, state: 'contract', complete: true, stamped: ['expand', 'dual-write', 'backfill'] }],
    });
    expect((await cli(['status', id], { url: db.url, dir })).stdout).toContain('contract (stamped: expand, dual-write, backfill)');
  });

  test('a phase the database does not show, or one already done, is refused with exit 3 and nothing is recorded', async () => {
    const other = '20261202_rename_name';
    const missing = await cli(['stamp', other, '--phase', 'expand', '--json'], { url: db.url, dir });
    expect(missing.code).toBe(3);
    expect(missing.json()).toMatchObject({
      error: 'stamp_refused',
      phase: 'expand',
      problems: ['column full_name (added by expand) is missing from users'],
    });

    // --through checks every phase before recording any: dual-write's trigger is missing, so expand is not recorded either.
    await db.query(`ALTER TABLE users ADD COLUMN full_name text`);
    const through = await cli(['stamp', other, '--through', 'dual-write', '--json'], { url: db.url, dir });
    expect(through.code).toBe(3);
    expect(through.json()).toMatchObject({ error: 'stamp_refused', phase: 'dual-write' });
    expect(await db.query(`SELECT id FROM pgshift.migrations WHERE id = $1`, [other])).toEqual([]);

    expect((await cli(['stamp', other, '--phase', 'expand'], { url: db.url, dir })).code).toBe(0);
    const again = await cli(['stamp', other, '--phase', 'expand', '--json'], { url: db.url, dir });
    expect(again.code).toBe(3);
    expect(again.json()).toMatchObject({
      error: 'phase_order',
      reason: 'expand is already done (now: expand); a stamp records a phase that is not',
    });

    // Stamped phases are pgshift's from then on: rollback undoes them like run ones.
    expect((await cli(['rollback', other], { url: db.url, dir })).code).toBe(0);
    expect(await columnsOf(db, 'users')).toEqual(['id', 'name', 'email_address']);
    const status = await cli(['status', other, '--json'], { url: db.url, dir });
    expect(status.json()).toMatchObject({ migrations: [{ state: 'pending', stamped: [] }] });
  });

  test('backfill is refused while the DDL pgshift runs after its backfill is not done (the NOT NULL check of a renamed NOT NULL column)', async () => {
    const code = '20261203_rename_code';
    await db.query(`ALTER TABLE users ADD COLUMN code text NOT NULL DEFAULT 'c'`);
    const codeDir = planDir(renamePlan(code, { table: 'users', from: 'code', to: 'product_code' }));
    await runByHand(db, await ddlOf(db.url, codeDir, code, 'expand'));
    expect((await cli(['stamp', code, '--phase', 'expand'], { url: db.url, dir: codeDir })).code).toBe(0);
    await runByHand(db, await ddlOf(db.url, codeDir, code, 'dual-write'));
    await db.query(`UPDATE users SET product_code = code`);
    const notYet = await cli(['stamp', code, '--through', 'backfill', '--json'], { url: db.url, dir: codeDir });
    expect(notYet.code).toBe(3);
    expect(notYet.json()).toMatchObject({ error: 'stamp_refused', phase: 'backfill' });
    expect(notYet.stderr).toMatch(/enforce product_code IS NOT NULL on new writes at once, without a scan: not done/);
    expect(await db.query(`SELECT state FROM pgshift.migrations WHERE id = $1`, [code])).toEqual([{ state: 'expand' }]);

    await runByHand(db, await ddlOf(db.url, codeDir, code, 'backfill'));
    expect((await cli(['stamp', code, '--through', 'backfill'], { url: db.url, dir: codeDir })).code).toBe(0);
    expect((await cli(['advance', code], { url: db.url, dir: codeDir })).code).toBe(0);
    expect(await db.query(`SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'product_code'`)).toEqual([
      { attnotnull: true },
    ]);
  });

  test('bad arguments exit 2; another orchestrator holding the lock exits 4', async () => {
    expect((await cli(['stamp', 'nope', '--phase', 'expand'], { url: db.url, dir })).code).toBe(2);
    const both = await cli(['stamp', id, '--phase', 'expand', '--through', 'backfill'], { url: db.url, dir });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('stamp needs exactly one of --phase <phase> or --through <phase>');
    expect((await cli(['stamp', id, '--phase', 'verify'], { url: db.url, dir })).code).toBe(2);

    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query(`SELECT pg_advisory_lock(x'70677368'::int, x'69667421'::int)`);
      const busy = await cli(['stamp', '20261202_rename_name', '--phase', 'expand', '--json'], { url: db.url, dir });
      expect(busy.code).toBe(4);
      expect(busy.json()).toMatchObject({ error: 'orchestrator_busy' });
    } finally {
      await holder.end();
    }
  });
});

describe('ledger version 3', () => {
  test('a version 2 ledger is upgraded in place, its rows kept, and takes stamp runs', async () => {
    const old = await createTestDatabase();
    try {
      await old.query(`CREATE TABLE users (id bigint PRIMARY KEY, email text)`);
      await old.query(`CREATE SCHEMA pgshift`);
      await old.query(
        `CREATE TABLE pgshift.ledger_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(), pgshift_version text)`,
      );
      await old.query(LEDGER_MIGRATIONS[0]!);
      await old.query(LEDGER_MIGRATIONS[1]!);
      await old.query(`INSERT INTO pgshift.ledger_version (version) VALUES (1), (2)`);
      await old.query(
        `INSERT INTO pgshift.phase_runs (migration_id, phase, action, status, finished_at) VALUES ('0001_earlier', 'expand', 'apply', 'succeeded', now())`,
      );
      await expect(
        old.query(`INSERT INTO pgshift.phase_runs (migration_id, phase, action, status) VALUES ('x', 'expand', 'stamp', 'succeeded')`),
      ).rejects.toThrow(/phase_runs_action_check/);

      await old.query(`ALTER TABLE users ADD COLUMN mail text`);
      const dir = planDir(renamePlan('0002_mail', { table: 'users', from: 'email', to: 'mail' }));
      const r = await cli(['stamp', '0002_mail', '--phase', 'expand'], { url: old.url, dir });
      expect(r.code, r.stderr).toBe(0);
      expect(
        (await old.query<{ version: number }>(`SELECT version FROM pgshift.ledger_version ORDER BY version`)).map((v) => v.version),
      ).toEqual(Array.from({ length: LEDGER_VERSION }, (_, i) => i + 1));
      expect(await old.query(`SELECT migration_id, action, status FROM pgshift.phase_runs ORDER BY id`)).toEqual([
        { migration_id: '0001_earlier', action: 'apply', status: 'succeeded' },
        { migration_id: '0002_mail', action: 'stamp', status: 'succeeded' },
      ]);
    } finally {
      await old.drop();
    }
  });
});
