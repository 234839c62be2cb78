import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { cli, EXAMPLES } from '../support/cli.js';
import { createTestDatabase, useDatabase } from '../support/database.js';
import { LEDGER_MIGRATIONS, LEDGER_VERSION } from '../../src/ledger/schema.js';
import { planDir, renamePlan } from '../support/plans.js';

describe('the ledger keeps each plan honest', () => {
  const db = useDatabase();

  beforeAll(async () => {
    await db.query(
      `CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL, name text, nickname text)`,
    );
    await db.query(`INSERT INTO users (email, name) SELECT 'u' || g, 'n' || g FROM generate_series(1, 500) g`);
  });

  test('status and history on a fresh database read without creating anything', async () => {
    const s = await cli(['status', '--json'], { url: db.url, dir: EXAMPLES });
    expect(s.code).toBe(0);
    expect(s.json<{ migrations: { id: string; state: string; next: string }[] }>().migrations.map((m) => [m.id, m.state, m.next])).toEqual([
      ['20261121_rename_users_email', 'pending', 'expand'],
      ['20261122_rename_users_name', 'pending', 'expand'],
    ]);
    expect((await cli(['history', '--json'], { url: db.url, dir: EXAMPLES })).json()).toEqual({ ok: true, runs: [] });
    expect(await db.query(`SELECT to_regnamespace('pgshift') AS ns`)).toEqual([{ ns: null }]);
  });

  test('the TypeScript and JSON example plans run one phase per call, each migration in id order', async () => {
    const r = await cli(['advance', '--json'], { url: db.url, dir: EXAMPLES });
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({
      migrations: [
        { id: '20261121_rename_users_email', state: 'expand' },
        { id: '20261122_rename_users_name', state: 'expand' },
      ],
    });
    const [v] = await db.query<{ version: number }>(`SELECT max(version) AS version FROM pgshift.ledger_version`);
    expect(v!.version).toBe(LEDGER_VERSION);
  });

  test('a plan changed after a phase ran is refused with exit 2', async () => {
    const dir = planDir(renamePlan('20261121_changed', { table: 'users', from: 'nickname', to: 'handle' }));
    expect((await cli(['advance', '20261121_changed'], { url: db.url, dir })).code).toBe(0);
    writeFileSync(
      path.join(dir, '20261121_changed.json'),
      JSON.stringify({ id: '20261121_changed', operations: [{ kind: 'renameColumn', table: 'users', from: 'nickname', to: 'alias' }] }),
    );
    const r = await cli(['advance', '20261121_changed', '--json'], { url: db.url, dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/migration 20261121_changed was changed after its expand phase ran/);
    expect(r.json()).toMatchObject({ error: 'plan_changed', migration: '20261121_changed', phase: 'expand' });
    const s = await cli(['status'], { url: db.url, dir });
    expect(s.stdout).toContain('20261121_changed (PLAN CHANGED)');
    // Reformatting or reordering keys is not a change.
    writeFileSync(
      path.join(dir, '20261121_changed.json'),
      JSON.stringify(
        {
          operations: [{ to: 'handle', from: 'nickname', table: 'users', schema: 'public', kind: 'renameColumn' }],
          id: '20261121_changed',
        },
        null,
        4,
      ),
    );
    expect((await cli(['advance', '20261121_changed'], { url: db.url, dir })).code).toBe(0);
  });

  test('a migration whose file was deleted is still shown and can be rolled back from the ledger', async () => {
    const empty = planDir({});
    const s = await cli(['status', '--json'], { url: db.url, dir: empty });
    const listed = s.json<{ migrations: { id: string; source: string; state: string }[] }>().migrations;
    expect(listed.find((m) => m.id === '20261121_changed')).toMatchObject({ source: 'ledger', state: 'dual-write' });
    const rb = await cli(['rollback', '20261121_changed'], { url: db.url, dir: empty });
    expect(rb.code, rb.stderr).toBe(0);
    const cols = await db.query<{ attname: string }>(
      `SELECT attname FROM pg_attribute WHERE attrelid = 'users'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    );
    expect(cols.map((c) => c.attname)).toEqual(['id', 'email', 'name', 'nickname', 'email_address', 'full_name']);
  });

  test('a ledger written by an older pgshift (version 1) is upgraded in place, its records kept', async () => {
    const old = await createTestDatabase();
    try {
      await old.query(`CREATE TABLE users (id bigint PRIMARY KEY, email text)`);
      await old.query(`INSERT INTO users SELECT g, 'e' || g FROM generate_series(1, 100) g`);
      // Version 1 exactly as it shipped, with one migration expanded by hand.
      await old.query(`CREATE SCHEMA pgshift`);
      await old.query(
        `CREATE TABLE pgshift.ledger_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(), pgshift_version text)`,
      );
      await old.query(LEDGER_MIGRATIONS[0]!);
      await old.query(`INSERT INTO pgshift.ledger_version (version) VALUES (1)`);
      const dir = planDir(renamePlan('20261121_old', { table: 'users', from: 'email', to: 'mail' }));
      expect((await cli(['advance'], { url: old.url, dir })).code).toBe(0);
      const versions = await old.query<{ version: number }>(`SELECT version FROM pgshift.ledger_version ORDER BY version`);
      expect(versions.map((v) => v.version)).toEqual(Array.from({ length: LEDGER_VERSION }, (_, i) => i + 1));
      expect(await old.query(`SELECT id, state FROM pgshift.migrations`)).toEqual([{ id: '20261121_old', state: 'expand' }]);
      const r = await cli(['advance', '--to', 'contract', '--json'], { url: old.url, dir });
      expect(r.code, r.stderr).toBe(0);
    } finally {
      await old.drop();
    }
  });

  test('a backfill in flight under a version 1 ledger resumes from its cursor after the upgrade', async () => {
    const old = await createTestDatabase();
    try {
      await old.query(`CREATE TABLE users (id bigint PRIMARY KEY, email text)`);
      await old.query(`INSERT INTO users SELECT g, 'e' || g FROM generate_series(1, 1000) g`);
      const dir = planDir(renamePlan('20261121_inflight', { table: 'users', from: 'email', to: 'mail' }));
      expect((await cli(['advance', '--to', 'dual-write'], { url: old.url, dir })).code).toBe(0);
      // Turn the ledger back into version 1, with a backfill half done as version 1 recorded it.
      await old.query(`DROP TABLE pgshift.backfill_control`);
      await old.query(`ALTER TABLE pgshift.backfill_progress DROP COLUMN range_start, DROP COLUMN range_end, DROP COLUMN batch_size,
                         DROP COLUMN rows_per_second, DROP COLUMN hold_reason, DROP COLUMN held_since`);
      await old.query(`DELETE FROM pgshift.ledger_version WHERE version >= 2`);
      await old.query(`UPDATE users SET email = email WHERE id <= 400`);
      await old.query(
        `INSERT INTO pgshift.backfill_progress (migration_id, task, cursor, rows_done, batches) VALUES ('20261121_inflight', '0.backfill', '["400"]', 400, 2)`,
      );
      const r = await cli(['advance', '--json'], { url: old.url, dir });
      expect(r.code, r.stderr).toBe(0);
      expect(r.json()).toMatchObject({
        migrations: [
          {
            state: 'backfill',
            ran: [{ details: { tasks: { '0.backfill': { resumedFrom: ['400'], rowsUpdated: 600, rowsDone: 1000 } } } }],
          },
        ],
      });
      const c = await cli(['advance', '--json'], { url: old.url, dir });
      expect(c.code, c.stderr).toBe(0);
      expect(c.json()).toMatchObject({ migrations: [{ state: 'contract' }] });
    } finally {
      await old.drop();
    }
  });
});
