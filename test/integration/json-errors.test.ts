import net from 'node:net';
import { describe, expect, test } from 'vitest';
import { cli } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { planDir, renamePlan } from '../support/plans.js';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('--json prints one JSON document for every failure', () => {
  const db = useDatabase();

  test('a refused connection names the network error, not a SQLSTATE', async () => {
    const url = `postgres://postgres@127.0.0.1:${await closedPort()}/postgres`;
    const r = await cli(['status', '--json'], { url, dir: planDir({}) });
    expect(r.code).toBe(1);
    const out = r.json<Record<string, unknown>>();
    expect(out).toMatchObject({ ok: false, exitCode: 1, networkError: 'ECONNREFUSED' });
    expect(out).not.toHaveProperty('sqlstate');
    expect(r.stderr).toContain('(ECONNREFUSED)');
  });

  test('a bad argument (advance --batch-size 0) prints a JSON error with exit 2', async () => {
    const r = await cli(['advance', '--batch-size', '0', '--json'], { url: db.url, dir: planDir({}) });
    expect(r.code).toBe(2);
    expect(r.json()).toMatchObject({ ok: false, exitCode: 2, error: 'invalid_argument', message: expect.stringContaining('--batch-size') });
  });

  test('an SQL error in a phase names the migration and the phase, with the real SQLSTATE', async () => {
    const id = '0001_users_email';
    const dir = planDir(renamePlan(id, { table: 'users', from: 'email', to: 'email_address' }));
    await db.query(`CREATE TABLE users (id bigint PRIMARY KEY, email text)`);
    const expand = await cli(['advance', '--json'], { url: db.url, dir });
    expect(expand.code, expand.stderr).toBe(0);
    // advance --json lists each statement that ran, with its step id, lock level, time and whether it was skipped.
    const [ran] = expand.json<{
      migrations: {
        ran: { details: { statements: number; steps: { id: string; lock: string; seconds: number; skipped: boolean }[] } }[];
      }[];
    }>().migrations[0]!.ran;
    expect(ran!.details.steps.map(({ seconds, ...s }) => ({ ...s, timed: seconds >= 0 }))).toEqual([
      { id: '0.expand.add-column', lock: 'ACCESS EXCLUSIVE', skipped: false, timed: true },
    ]);
    expect(ran!.details.statements).toBe(1);
    expect((await cli(['advance'], { url: db.url, dir })).code).toBe(0);
    // A row the backfill cannot write: the new column refuses what the old one holds.
    await db.query(`ALTER TABLE users DISABLE TRIGGER USER`);
    await db.query(`INSERT INTO users VALUES (1, 'x')`);
    await db.query(`ALTER TABLE users ENABLE TRIGGER USER`);
    await db.query(`ALTER TABLE users ADD CONSTRAINT no_x CHECK (email_address IS DISTINCT FROM 'x') NOT VALID`);
    const r = await cli(['advance', '--json'], { url: db.url, dir });
    expect(r.code).toBe(1);
    expect(r.json()).toMatchObject({ ok: false, exitCode: 1, migration: id, phase: 'backfill', sqlstate: '23514', constraint: 'no_x' });
  });
});
