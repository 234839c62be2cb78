import pg from 'pg';
import { afterAll, describe, expect, test } from 'vitest';
import { useBackfillAtDualWrite } from '../support/backfill.js';
import { useDatabase } from '../support/database.js';
import { until } from '../support/wait.js';

const ROWS = 40_000;

describe('a DBA steers a running backfill', () => {
  const db = useDatabase();
  const id = '20261121_control';
  const orders = useBackfillAtDualWrite(db, { id, table: 'orders', from: 'ref', to: 'reference', rows: ROWS });
  const { progress } = orders;

  test('tune changes the batch size within one batch; pause holds; resume goes on; status shows it all', async () => {
    const run = orders.spawn(['advance', '--batch-size', '200', '--batch-delay', '40']);
    await until(async () => Number((await progress())?.batches ?? 0) >= 3, 'three batches');

    const tuned = await orders.run('tune', id, '--batch-size', '777', '--json');
    expect(tuned.code, tuned.stderr).toBe(0);
    expect(tuned.json()).toMatchObject({ settings: { batchSize: 777 }, paused: false });
    const batchesAtTune = Number((await progress())!.batches);
    const applied = await until(async () => {
      const p = await progress();
      return p?.batch_size === 777 ? p : null;
    }, 'the tuned batch size');
    // The batch in flight when tune wrote may finish at the old size; the next one uses the new.
    expect(Number(applied.batches) - batchesAtTune).toBeLessThanOrEqual(2);

    expect((await orders.run('pause', id)).code).toBe(0);
    const held = await orders.held();
    expect(held.hold_reason).toMatch(/^paused by `pgshift pause`/);
    const doneWhenHeld = held.rows_done;
    await new Promise((r) => setTimeout(r, 400));
    expect((await progress())!.rows_done).toBe(doneWhenHeld);
    const status = await orders.run('status', id, '--json');
    expect(status.json()).toMatchObject({
      migrations: [
        {
          state: 'dual-write',
          backfillSummary: {
            finished: false,
            holdReason: expect.stringMatching(/^paused/),
            workers: 1,
            control: { paused: true, settings: { batchSize: 777 } },
          },
        },
      ],
    });
    expect((await orders.run('status', id)).stdout).toMatch(/HELD: paused by `pgshift pause`/);

    expect((await orders.run('resume', id)).code).toBe(0);
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    const done = (await progress())!;
    expect(done.finished_at).not.toBeNull();
    expect(done.hold_reason).toBeNull();
    expect(Number(done.rows_done)).toBe(ROWS);
    expect(await orders.unsynced()).toBe(0);
  });

  test('tune rejects nonsense and unknown migrations', async () => {
    const bad = await orders.run('tune', id, '--pause-ratio', '-1');
    expect(bad.code).toBe(2);
    const none = await orders.run('tune', id);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('nothing to change');
    expect((await orders.run('pause', 'nope')).code).toBe(2);
  });
});

describe('health signals hold the backfill, never abort it', () => {
  const db = useDatabase();
  const id = '20261121_signals';
  const events = useBackfillAtDualWrite(db, {
    id,
    table: 'events',
    from: 'kind',
    to: 'type',
    rows: 20_000,
    columns: 'id bigint PRIMARY KEY, kind text',
    prefix: 'k',
    analyze: false,
  });
  const { progress } = events;

  test('a replica lag that cannot be read holds (fail closed) until tuned off', async () => {
    // The primary itself is not a standby: the lag cannot be measured there.
    const run = events.spawn(['advance', '--replica-url', db.url, '--batch-size', '500'], { PGSHIFT_LOG_LEVEL: 'info' });
    const held = await events.held();
    expect(held.hold_reason).toBe(
      'cannot read replica lag (holding until it can be read): the --replica-url server is not a standby (pg_is_in_recovery() is false)',
    );
    expect(held.rows_done).toBe('0');
    // Both limits: --max-lag-bytes alone would still read the lag (and hold).
    expect((await events.run('tune', id, '--max-lag', 'off', '--max-lag-bytes', 'off')).code).toBe(0);
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('backfill holding: cannot read replica lag');
    expect(r.stderr).toContain('backfill settings changed live: maxLagMs: 10000 → null, maxLagBytes: 67108864 → null');
    expect((await progress())!.rows_done).toBe('20000');
  });

  /**
   * A VACUUM (FREEZE) that stays running: a cursor pins a page holding freshly inserted (so not yet
   * frozen) rows, and the vacuum must wait for that page's cleanup lock to freeze them. (Pinning
   * an arbitrary page is not enough: an earlier FREEZE may have left nothing on it to do.)
   *
   * Returns once this VACUUM itself is running, not any vacuum of the table: an autovacuum of the
   * table (the previous test's backfill left dead rows) would be listed first while the VACUUM
   * waits for its lock, and the backfill, which ignores autovacuums, could finish before it starts.
   */
  async function pinnedVacuum(table: string) {
    const [{ max }] = (await db.query<{ max: string }>(`SELECT max(id)::text AS max FROM ${table}`)) as [{ max: string }];
    await db.query(`INSERT INTO ${table} (id) SELECT g FROM generate_series($1::bigint + 1, $1::bigint + 50) g`, [max]);
    const pin = new pg.Client({ connectionString: db.url });
    const vacuum = new pg.Client({ connectionString: db.url });
    // The test database's teardown terminates what is left: that is not an error of the test.
    for (const c of [pin, vacuum]) c.on('error', () => undefined);
    await pin.connect();
    await vacuum.connect();
    let vacuuming: Promise<unknown> | null = null;
    const end = async () => {
      await pin.query('COMMIT').catch(() => undefined);
      await vacuuming;
      await pin.end();
      await vacuum.end();
    };
    try {
      const [{ pid }] = (await vacuum.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [{ pid: number }];
      await pin.query('BEGIN');
      await pin.query(`DECLARE c CURSOR FOR SELECT * FROM ${table} WHERE id > ${Number(max)}`);
      await pin.query('FETCH 1 FROM c');
      // Settled at once, so a VACUUM that fails while the test waits is not an unhandled rejection;
      // the wait below names it instead.
      vacuuming = vacuum.query(`VACUUM (FREEZE) ${table}`).catch((error: unknown) => error);
      let ended: unknown = null;
      void vacuuming.then((outcome) => (ended = outcome instanceof Error ? outcome.message : 'it completed'));
      await until(async () => {
        if (ended) throw new Error(`the VACUUM (pid ${pid}) ended before it was seen running: ${ended}`);
        const rows = await db.query(`SELECT 1 FROM pg_stat_progress_vacuum WHERE pid = $1 AND relid = $2::regclass`, [pid, table]);
        return rows.length > 0;
      }, `the VACUUM (pid ${pid})`);
      return { pid, end };
    } catch (error) {
      await end();
      throw error;
    }
  }

  test('a manual VACUUM running on the table holds the backfill until it ends', async () => {
    expect((await events.run('rollback', id)).code).toBe(0);
    expect((await events.run('advance', '--to', 'dual-write')).code).toBe(0);
    const vacuum = await pinnedVacuum('events');
    const run = events.spawn(['advance', '--batch-size', '500']);
    try {
      const held = await events.held();
      expect(held.hold_reason).toBe(`VACUUM running on events (pid ${vacuum.pid}, scanning heap)`);
      expect(held.rows_done).toBe('0');
    } finally {
      await vacuum.end();
    }
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect((await progress())!.rows_done).toBe('20000');
  });

  test('--hold-on-vacuum off goes on through a running VACUUM', async () => {
    // DDL (rollback, expand) would wait for the vacuum's lock: set up first, then start the vacuum.
    expect((await events.run('rollback', id)).code).toBe(0);
    expect((await events.run('advance', '--to', 'dual-write')).code).toBe(0);
    const vacuum = await pinnedVacuum('events');
    try {
      // The vacuum is running when the backfill starts; the backfill must never hold for it.
      const run = events.spawn(['advance', '--hold-on-vacuum', 'off', '--json'], { PGSHIFT_LOG_LEVEL: 'info' });
      const r = await run.done;
      expect(r.code, r.stderr).toBe(0);
      expect(r.json()).toMatchObject({ migrations: [{ state: 'backfill' }] });
      expect(r.stderr).not.toContain('backfill holding');
      expect(r.stderr).toContain('"msg":"backfill: done"');
      expect((await progress())!.rows_done).toBe('20000');
    } finally {
      await vacuum.end();
    }
  });
});

describe('signals a role cannot read hold the backfill (fail closed)', () => {
  const db = useDatabase();
  const id = '20261121_noprivs';
  let url: string;
  let role: string;
  // The table belongs to a role without pg_read_all_stats, and pgshift connects as that role.
  const notes = useBackfillAtDualWrite(db, {
    id,
    table: 'notes',
    from: 'body',
    to: 'text',
    rows: 5000,
    columns: 'id int PRIMARY KEY, body text',
    prefix: 'b',
    analyze: false,
    async prepare() {
      role = `plain_${db.name.slice(-6)}`;
      await db.query(`CREATE ROLE ${role} LOGIN PASSWORD 'plain'`);
      await db.query(`GRANT CREATE ON DATABASE ${db.name} TO ${role}`);
      await db.query(`ALTER TABLE notes OWNER TO ${role}`);
      const u = new URL(db.url);
      u.username = role;
      u.password = 'plain';
      url = u.toString();
    },
    url: () => url,
  });

  // Roles are cluster-wide: leave none behind on a shared server.
  afterAll(async () => {
    await db.query(`REASSIGN OWNED BY ${role} TO CURRENT_USER`);
    await db.query(`DROP OWNED BY ${role}`);
    await db.query(`DROP ROLE ${role}`);
  });

  test('without pg_read_all_stats, replica lag counts as unreadable, not as zero', async () => {
    const run = notes.spawn(['advance', '--hold-on-vacuum', 'off']);
    const held = await notes.held();
    expect(held.hold_reason).toMatch(/^cannot read replica lag \(holding until it can be read\): role lacks pg_read_all_stats/);
    expect((await notes.run('tune', id, '--max-lag', 'off', '--max-lag-bytes', 'off')).code).toBe(0);
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
  });
});
