import { beforeAll, describe, expect, test } from 'vitest';
import { cli } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { planDir, renamePlan } from '../support/plans.js';
import { objectNames } from '../../src/operations/blocks/names.js';

const ID = '20261121_gate';
const TRIGGER = objectNames(ID, 0).trigger;

describe('contract is refused until the backfill is verified by values', () => {
  const db = useDatabase();
  let dir: string;
  const run = (...args: string[]) => cli(args, { url: db.url, dir });

  beforeAll(async () => {
    dir = planDir(renamePlan(ID, { table: 'people', from: 'email', to: 'mail' }));
    await db.query(`CREATE TABLE people (id int PRIMARY KEY, email text)`);
    await db.query(`INSERT INTO people SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE 'p' || g END FROM generate_series(1, 3000) g`);
  });

  test('contract before the backfill is out of order: advance runs phases strictly in sequence', async () => {
    const r = await run('advance', '--to', 'dual-write', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({ migrations: [{ state: 'dual-write', next: 'backfill' }] });
  });

  test('contract with no verification recorded: exit 3, naming the migration and the reason', async () => {
    expect((await run('advance')).code).toBe(0); // backfill
    const r = await run('advance', '--no-verify', '--json');
    expect(r.code).toBe(3);
    expect(r.json()).toMatchObject({ ok: false, exitCode: 3, error: 'contract_refused', migration: ID });
    expect(r.stderr).toContain(`contract of ${ID} refused: no verification recorded since the backfill finished`);
    const [col] = await db.query(
      `SELECT 1 FROM pg_attribute WHERE attrelid = 'people'::regclass AND attname = 'email' AND NOT attisdropped`,
    );
    expect(col).toBeDefined();
  });

  test('tampering behind a disabled trigger: verify names the key (exit 3), contract refuses', async () => {
    expect((await run('verify')).code).toBe(0);
    await db.query(`ALTER TABLE people DISABLE TRIGGER ${TRIGGER}`);
    await db.query(`UPDATE people SET email = 'tampered' WHERE id = 1234`);
    await db.query(`UPDATE people SET mail = NULL WHERE id = 77`);
    await db.query(`ALTER TABLE people ENABLE TRIGGER ${TRIGGER}`);
    const v = await run('verify', ID, '--json');
    expect(v.code).toBe(3);
    const [evidence] = v.json<{ verifications: { passed: boolean; mismatches: number; sampleKeys: string[] }[] }>().verifications;
    expect(evidence).toMatchObject({ passed: false, mismatches: 2, sampleKeys: ['77', '1234'] });
    // Even relying on the recorded evidence, the latest (failing) verification blocks contract.
    const c1 = await run('advance', '--no-verify');
    expect(c1.code).toBe(3);
    expect(c1.stderr).toMatch(/found 2 mismatching row\(s\); sample keys: \["77","1234"\]/);
    // And a fresh verification inside advance finds the same.
    const c2 = await run('advance', '--json');
    expect(c2.code).toBe(3);
    expect(c2.json()).toMatchObject({ error: 'contract_refused', mismatches: 2, sampleKeys: ['77', '1234'] });
  });

  test('a disabled dual-write trigger blocks contract even with passing evidence', async () => {
    // Repair through the trigger: touching the old column makes the new one follow it.
    await db.query(`UPDATE people SET email = email WHERE id IN (77, 1234)`);
    expect((await run('verify')).code).toBe(0);
    await db.query(`ALTER TABLE people DISABLE TRIGGER ${TRIGGER}`);
    const r = await run('advance', '--no-verify');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`dual-write trigger ${TRIGGER} on people is disabled`);
    await db.query(`ALTER TABLE people ENABLE TRIGGER ${TRIGGER}`);
  });

  test('with the data repaired and verified, contract runs', async () => {
    const r = await run('advance', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({ migrations: [{ id: ID, state: 'contract', complete: true }] });
    const rows = await db.query<{ id: number; mail: string | null }>(`SELECT id, mail FROM people WHERE id IN (10, 1234) ORDER BY id`);
    expect(rows).toEqual([
      { id: 10, mail: null },
      { id: 1234, mail: 'tampered' },
    ]);
    const history = await db.query<{ status: string }>(
      `SELECT status FROM pgshift.phase_runs WHERE migration_id = $1 AND phase = 'contract' ORDER BY id`,
      [ID],
    );
    expect(history.map((h) => h.status)).toEqual(['refused', 'refused', 'refused', 'succeeded']);
  });
});
