import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { AppWriter, checkWrites } from '../../src/demo/writers.js';
import { cli } from '../support/cli.js';
import { snapshot } from '../support/catalog.js';
import { useDatabase } from '../support/database.js';
import { planDir, renamePlan } from '../support/plans.js';

const ROWS = 5_000;

describe.each(['expand', 'dual-write', 'backfill'] as const)('rollback after %s', (phase) => {
  const db = useDatabase();
  const table = `accounts_${phase.replace('-', '_')}`;
  const id = `20261121_rollback_${phase.replace('-', '_')}`;
  let dir: string;
  let writer: AppWriter;

  beforeAll(async () => {
    dir = planDir(renamePlan(id, { table, from: 'email', to: 'email_address' }));
    await db.query(`CREATE TABLE ${table} (
      id bigint PRIMARY KEY,
      email varchar(200) COLLATE "C" NOT NULL DEFAULT 'x@y',
      note text)`);
    await db.query(`COMMENT ON COLUMN ${table}.email IS 'primary contact'`);
    await db.query(`INSERT INTO ${table} SELECT g, 'u' || g || '@example.com', 'n' FROM generate_series(1, ${ROWS}) g`);
  });
  afterAll(async () => {
    await writer?.stop().catch(() => undefined);
  });

  test('restores the table, pgshift objects and ledger exactly, under writes', async () => {
    const before = await snapshot(db, table, id);
    expect((await cli(['advance', '--to', phase], { url: db.url, dir })).code).toBe(0);
    const during = await snapshot(db, table, id);
    expect(during.columns.map((c) => c.attname)).toContain('email_address');
    // The old app keeps writing across the rollback; its writes must survive in the old column.
    writer = new AppWriter({ url: db.url, label: 'old', table, key: 'id', column: 'email', ownsKey: () => true, maxExistingId: ROWS, insertShare: 0, pauseMs: 1 });
    await writer.start();
    await writer.waitForWrites(30);
    const r = await cli(['rollback', id, '--json'], { url: db.url, dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({ id, from: phase, state: 'pending' });
    await writer.waitForWrites(writer.stats.updates + 10);
    const stats = await writer.stop();
    expect(stats.errors, stats.lastError ?? '').toBe(0);
    const after = await snapshot(db, table, id);
    expect(after.columns).toEqual(before.columns);
    expect(after.constraints).toEqual(before.constraints);
    expect(after.indexes).toEqual(before.indexes);
    expect(after.triggers).toEqual(before.triggers);
    expect(after.functions).toEqual([]);
    expect(after.ledger).toEqual({ migrations: [], progress: [], verifications: [] });
    const check = await checkWrites(db.pool, { name: table, key: 'id', column: 'email' }, [writer]);
    expect(check.missing).toEqual([]);
    // History keeps the trail, and the migration can run again from the start.
    const runs = await db.query<{ action: string; phase: string; status: string }>(
      `SELECT action, phase, status FROM pgshift.phase_runs WHERE migration_id = $1 ORDER BY id`,
      [id],
    );
    expect(runs.at(-1)).toEqual({ action: 'rollback', phase, status: 'succeeded' });
    const again = await cli(['advance', '--json'], { url: db.url, dir });
    expect(again.code, again.stderr).toBe(0);
    expect(again.json()).toMatchObject({ migrations: [{ id, state: 'expand' }] });
  });
});
