import { expect } from 'vitest';
import { AppWriter, checkWrites, type AppWriterOptions, type WriterStats } from '../../tools/demo/writers.js';
import { qualified } from '../../src/sql/ident.js';
import { snapshot } from './catalog.js';
import { cli, type CliResult } from './cli.js';
import type { TestDatabase } from './database.js';
import { planDir } from './plans.js';

/**
 * One operation's whole lifecycle as a row of data, run by `lifecycleRunner`:
 *
 *   rollback from expand, from dual-write and from backfill (old app writing; catalog and ledger
 *   exactly as before each time), then expand → dual-write → backfill → verify → contract, each
 *   through the CLI with its exit code asserted, the old app writing until contract and the new
 *   app from dual-write on; every write of both is checked at the end.
 *
 * To add a row (a new operation kind, or another case of one): append a `LifecycleCase` to ROWS
 * in test/integration/lifecycle.test.ts. Give it
 * - `setup`: SQL run once in a fresh database. Use hostile names (quotes, spaces, mixed case) in
 *   the schema, the table and the columns; a few thousand rows is enough (`rows`).
 * - `operations`: the plan's operations, as in a plan file.
 * - `table`: the table the writers write (and that rollback must restore); `alsoSnapshot` for
 *   other tables the operation touches (a referenced table, a table it creates elsewhere).
 * - `oldApp` / `newApp`: what each app version writes (`WriterSpec`), or null when there is no
 *   such version (no old app before a createTable). The old app writes from before expand until
 *   just before contract (it is retired before contract: the expand/contract deal); the new app
 *   from dual-write through contract. `checkColumn` is where a writer's values are after contract
 *   (the new name, after a rename). Two writers that end up in one column need disjoint `ownsKey`.
 *   Where AppWriter's text values do not fit, `{ custom }` builds a `LifecycleWriter` of its own
 *   (NullWriter, NameWriter for split names, PriceWriter for amounts in cents or prices).
 * - hooks with the operation's own assertions (`expanded`, `dualWriting`, `backfilled`,
 *   `verified`, `rolledBack`, `contracted`); the runner already asserts exit codes, states, writes, the
 *   catalog after each rollback, and that no INVALID index, pgshift trigger, function or helper
 *   constraint is left after contract. `contracted` is required: it states the final shape.
 * - `actsFrom`: the first phase that changes the catalog of those tables; each rollback test
 *   checks the catalog changed (or, before that phase, did not) before it rolls back.
 * - `backfillArgs` for extra `advance` options of the backfill phase (e.g. a fixed batch size).
 * - `dropsTable` when contract drops `table` (dropTable): the old app writes it until contract and
 *   no new app writes it (`newApp: null`); its writes are checked just before contract, once it is
 *   retired, since afterwards there is no table to check them in; and after contract the runner
 *   asserts `table` is gone instead of there (`contracted` states what went with it and what stayed).
 * Keep hook assertions version-independent (PostgreSQL 18 lists NOT NULL as pg_constraint rows
 * with contype 'n', 15 does not): filter with `withoutNotNull` when listing constraints.
 */
export interface LifecycleCase {
  name: string;
  setup: string[];
  operations: Record<string, unknown>[];
  table: TableName;
  /** Key column of `table` (an identity, so the writers' INSERTs get fresh keys). */
  key?: string;
  /** Existing rows, with keys 1..rows. */
  rows: number;
  /** The first phase that changes the catalog of the tables (`contract` for a drop). */
  actsFrom: 'expand' | 'dual-write' | 'backfill' | 'contract';
  alsoSnapshot?: TableName[];
  oldApp: WriterSpec | null;
  newApp: WriterSpec | null;
  backfillArgs?: string[];
  /** Statements each rollback runs, when the row pins it (0: nothing to undo). */
  rollbackStatements?: number;
  /** Contract drops `table`: the old app's writes are checked before contract, the table must be gone after it. */
  dropsTable?: boolean;
  expanded?: (ctx: LifecycleContext, result: CliResult) => Promise<void>;
  dualWriting?: (ctx: LifecycleContext) => Promise<void>;
  backfilled?: (ctx: LifecycleContext, result: CliResult) => Promise<void>;
  verified?: (ctx: LifecycleContext, result: CliResult) => Promise<void>;
  rolledBack?: (ctx: LifecycleContext, phase: RollbackPhase) => Promise<void>;
  contracted: (ctx: LifecycleContext) => Promise<void>;
}

export interface TableName {
  schema: string;
  name: string;
}

/** A stand-in for one app version's writes (see AppWriter), or one of its own. */
export type WriterSpec =
  | (Pick<AppWriterOptions, 'column' | 'insertShare' | 'insertExtras'> & {
      ownsKey?: (id: number) => boolean;
      /** The column holding this writer's values after contract (default: `column`). */
      checkColumn?: string;
    })
  | { custom: (options: { url: string; table: TableName; rows: number }) => LifecycleWriter };

/** What the runner needs of a writer; AppWriter has it. */
export interface LifecycleWriter {
  readonly stats: WriterStats;
  start(): Promise<void>;
  waitForWrites(n: number): Promise<void>;
  stop(): Promise<WriterStats>;
  /**
   * Its writes not found where they should be (empty when all are): in the columns it writes after
   * a rollback and before contract (`dropsTable`), in their place after contract.
   */
  check(db: TestDatabase, when: CheckPoint): Promise<unknown[]>;
}

/** When a writer's writes are checked: after a rollback, just before contract (`dropsTable`), after contract. */
export type CheckPoint = 'rolled back' | 'before contract' | 'contracted';

export type RollbackPhase = 'expand' | 'dual-write' | 'backfill';
const PHASES = ['expand', 'dual-write', 'backfill', 'contract'] as const;
export const ROLLBACK_PHASES: readonly RollbackPhase[] = ['expand', 'dual-write', 'backfill'];

export interface LifecycleContext {
  db: TestDatabase;
  id: string;
  /** `table` quoted, schema-qualified. */
  t: string;
  /** The CLI on this row's migration directory. */
  run(...args: string[]): Promise<CliResult>;
  /** Rows of a query on the test database. */
  q<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<R[]>;
  /** Runs `sql` in a transaction that is rolled back: probes that must leave no row behind. */
  probe<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<R[]>;
  /** Runs `statements` in order in one transaction that is rolled back: each one's rows (a write, then what follows from it). */
  probeSteps<R extends Record<string, unknown> = Record<string, unknown>>(...statements: string[]): Promise<R[][]>;
  /** The catalog of `table` and `alsoSnapshot` as `snapshot` sees it (null for a missing table). */
  catalog(): Promise<Catalog>;
  /** The catalog before the migration first ran. */
  before: Catalog;
  /** Columns of `table`: name, type, NOT NULL, default. */
  columns(): Promise<{ name: string; type: string; notnull: boolean; default: string | null }[]>;
  /** Constraints of `table` other than PostgreSQL 18's NOT NULL rows. */
  constraints(): Promise<{ name: string; type: string; def: string; validated: boolean }[]>;
  /** Indexes of `table` with pg_index's validity. */
  indexes(): Promise<{ name: string; valid: boolean; unique: boolean; def: string }[]>;
}

export type Catalog = Record<string, Awaited<ReturnType<typeof tableCatalog>>>;

export const sqlName = (t: TableName) => qualified(t.schema, t.name);

async function tableCatalog(db: TestDatabase, t: TableName) {
  const [row] = await db.query<{ exists: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS exists`, [sqlName(t)]);
  if (!row!.exists) return null;
  const { columns, constraints, indexes, triggers } = await snapshot(db, sqlName(t));
  return { columns, constraints, indexes, triggers };
}

/** PostgreSQL 18 keeps NOT NULL as pg_constraint rows (contype 'n'); 15 does not. */
export function withoutNotNull<T extends { type?: unknown; contype?: unknown }>(rows: T[]): T[] {
  return rows.filter((r) => (r.type ?? r.contype) !== 'n');
}

function appWriter(spec: WriterSpec, label: string, c: LifecycleCase, url: string): LifecycleWriter {
  if ('custom' in spec) return spec.custom({ url, table: c.table, rows: c.rows });
  const writer = new AppWriter({
    url,
    label,
    schema: c.table.schema,
    table: c.table.name,
    key: c.key ?? 'id',
    column: spec.column,
    ownsKey: spec.ownsKey ?? (() => true),
    maxExistingId: c.rows,
    insertShare: spec.insertShare,
    insertExtras: spec.insertExtras,
    pauseMs: 1,
  });
  return Object.assign(writer, {
    async check(db: TestDatabase, when: CheckPoint) {
      const column = when === 'contracted' ? (spec.checkColumn ?? spec.column) : spec.column;
      const result = await checkWrites(db.pool, { schema: c.table.schema, name: c.table.name, key: c.key ?? 'id', column }, [writer]);
      expect(result.issued, `${label} app wrote nothing`).toBeGreaterThan(0);
      return result.missing;
    },
  });
}

const writesOf = (w: LifecycleWriter) => w.stats.inserts + w.stats.updates;

async function stopClean(w: LifecycleWriter, label: string) {
  const stats = await w.stop();
  expect(stats.errors, `${label} app: ${stats.lastError ?? ''}`).toBe(0);
}

/**
 * Registers nothing by itself: the test file creates the database (`useDatabase`) and calls
 * `setup`, `rollbackFrom` and `lifecycle` from its own hooks and tests, so that vitest's table
 * (`describe.each`) stays visible there.
 */
export function lifecycleRunner(c: LifecycleCase, db: TestDatabase) {
  if (c.dropsTable && c.newApp) throw new Error(`${c.name}: no new app writes a table that contract drops (newApp: null)`);
  const id = `20261301_${c.name.replace(/[^a-z0-9]+/gi, '_').toLowerCase()}`;
  const dir = planDir({ [`${id}.json`]: { id, operations: c.operations } });
  const run = (...args: string[]) => cli(args, { url: db.url, dir });
  const tables = [c.table, ...(c.alsoSnapshot ?? [])];
  const catalog = async (): Promise<Catalog> => {
    const out: Catalog = {};
    for (const t of tables) out[sqlName(t)] = await tableCatalog(db, t);
    return out;
  };
  /** `probe` and `probeSteps`: statements in one transaction, always rolled back. */
  const rolledBack = async <R extends Record<string, unknown>>(statements: { sql: string; values?: unknown[] }[]): Promise<R[][]> => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      const out: R[][] = [];
      for (const { sql, values } of statements) out.push((await client.query<R>(sql, values)).rows);
      return out;
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  };
  const ctx: LifecycleContext = {
    db,
    id,
    t: sqlName(c.table),
    run,
    q: (sql, values) => db.query(sql, values),
    async probe<R extends Record<string, unknown>>(sql: string, values?: unknown[]) {
      const [rows] = await rolledBack<R>([{ sql, values }]);
      return rows!;
    },
    probeSteps: <R extends Record<string, unknown>>(...statements: string[]) => rolledBack<R>(statements.map((sql) => ({ sql }))),
    catalog,
    before: {},
    columns: () =>
      db.query(
        `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull, pg_get_expr(d.adbin, d.adrelid) AS default
           FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
        [sqlName(c.table)],
      ),
    constraints: async () =>
      withoutNotNull(
        await db.query(
          `SELECT conname AS name, contype::text AS type, pg_get_constraintdef(oid) AS def, convalidated AS validated
             FROM pg_constraint WHERE conrelid = $1::regclass ORDER BY conname COLLATE "C"`,
          [sqlName(c.table)],
        ),
      ),
    indexes: () =>
      db.query(
        `SELECT c.relname AS name, i.indisvalid AND i.indisready AS valid, i.indisunique AS unique, pg_get_indexdef(i.indexrelid) AS def
           FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1::regclass ORDER BY c.relname COLLATE "C"`,
        [sqlName(c.table)],
      ),
  };
  const writer = (which: 'old' | 'new') => {
    const spec = which === 'old' ? c.oldApp : c.newApp;
    return spec ? appWriter(spec, which, c, db.url) : null;
  };
  const expectState = (r: CliResult, state: string, extra: Record<string, unknown> = {}) => {
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({ ok: true, migrations: [{ id, state, ...extra }] });
  };
  const ledgerRows = async () => ({
    migrations: await db.query(`SELECT id, state FROM pgshift.migrations WHERE id = $1`, [id]),
    progress: await db.query(`SELECT task FROM pgshift.backfill_progress WHERE migration_id = $1`, [id]),
    verifications: await db.query(`SELECT id FROM pgshift.verifications WHERE migration_id = $1`, [id]),
  });
  const ledgerRuns = () =>
    db.query<{ action: string; phase: string; status: string }>(
      `SELECT action, phase, status FROM pgshift.phase_runs WHERE migration_id = $1 ORDER BY id`,
      [id],
    );

  return {
    id,
    ctx,
    async setup() {
      for (const sql of c.setup) await db.query(sql);
      ctx.before = await catalog();
    },

    /** Advances to `phase` with the old app writing, rolls back, and proves nothing is left. */
    async rollbackFrom(phase: RollbackPhase) {
      const old = writer('old');
      await old?.start();
      try {
        await old?.waitForWrites(20);
        const r = await run('advance', '--to', phase, '--json');
        expectState(r, phase);
        // The catalog has changed from the first phase that acts on it (else rollback would prove nothing).
        if (PHASES.indexOf(phase) >= PHASES.indexOf(c.actsFrom)) expect(await catalog()).not.toEqual(ctx.before);
        else expect(await catalog()).toEqual(ctx.before);
        if (old) await old.waitForWrites(writesOf(old) + 20);
        const rb = await run('rollback', id, '--json');
        expect(rb.code, rb.stderr).toBe(0);
        expect(rb.json()).toMatchObject({ ok: true, id, from: phase, state: 'pending' });
        if (c.rollbackStatements !== undefined) expect(rb.json()).toMatchObject({ statements: c.rollbackStatements });
        if (old) await old.waitForWrites(writesOf(old) + 10);
      } finally {
        if (old) await stopClean(old, 'old');
      }
      expect(await catalog()).toEqual(ctx.before);
      const [fns] = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'pgshift'`,
      );
      expect(fns!.n).toBe(0);
      expect(await ledgerRows()).toEqual({ migrations: [], progress: [], verifications: [] });
      const runs = await ledgerRuns();
      expect(runs.at(-1)).toEqual({ action: 'rollback', phase, status: 'succeeded' });
      expect(runs.filter((x) => x.status !== 'succeeded')).toEqual([]);
      if (old) expect(await old.check(db, 'rolled back')).toEqual([]);
      await c.rolledBack?.(ctx, phase);
    },

    /** expand → dual-write → backfill → verify → contract through the CLI, both apps writing. */
    async lifecycle() {
      const old = writer('old');
      const fresh = writer('new');
      try {
        await old?.start();
        await old?.waitForWrites(20);
        const expand = await run('advance', '--json');
        expectState(expand, 'expand', { next: 'dual-write' });
        await c.expanded?.(ctx, expand);

        expectState(await run('advance', '--json'), 'dual-write', { next: 'backfill' });
        await fresh?.start();
        await fresh?.waitForWrites(20);
        await c.dualWriting?.(ctx);

        const backfill = await run('advance', ...(c.backfillArgs ?? []), '--json');
        expectState(backfill, 'backfill', { next: 'contract' });
        for (const w of [old, fresh]) if (w) await w.waitForWrites(writesOf(w) + 20);
        await c.backfilled?.(ctx, backfill);

        const verify = await run('verify', id, '--json');
        expect(verify.code, verify.stderr).toBe(0);
        const evidence = verify.json<{ ok: boolean; verifications: { passed: boolean; mismatches: number }[] }>();
        expect(evidence.ok).toBe(true);
        for (const v of evidence.verifications) expect(v).toMatchObject({ passed: true, mismatches: 0 });
        await c.verified?.(ctx, verify);

        // The old app version is retired before contract: that is the expand/contract deal.
        if (old) await stopClean(old, 'old');
        // Its writes are checked now when contract takes the table they are in.
        if (old && c.dropsTable) expect(await old.check(db, 'before contract')).toEqual([]);
        const contract = await run('advance', '--json');
        expectState(contract, 'contract', { complete: true });
        if (fresh) {
          await fresh.waitForWrites(writesOf(fresh) + 20);
          await stopClean(fresh, 'new');
        }
      } finally {
        await old?.stop().catch(() => undefined);
        await fresh?.stop().catch(() => undefined);
      }
      for (const w of [c.dropsTable ? null : old, fresh]) if (w) expect(await w.check(db, 'contracted')).toEqual([]);

      // Nothing of pgshift's is left on the tables, and no index is left half-built anywhere.
      expect(await db.query(`SELECT indexrelid::regclass::text AS name FROM pg_index WHERE NOT (indisvalid AND indisready)`)).toEqual([]);
      expect(await db.query(`SELECT proname FROM pg_proc WHERE pronamespace = to_regnamespace('pgshift')`)).toEqual([]);
      for (const [name, t] of Object.entries(await catalog())) {
        if (c.dropsTable && name === sqlName(c.table)) {
          expect(t, 'contract left the table it drops').toBeNull();
          continue;
        }
        expect(t, `${name} is missing after contract`).not.toBeNull();
        expect(t!.triggers.filter((x) => String(x.tgname).startsWith('pgshift'))).toEqual([]);
        expect(t!.constraints.filter((x) => String(x.conname).startsWith('pgshift'))).toEqual([]);
      }
      await c.contracted(ctx);

      // Done: nothing more to run, rollback refused (exit 3), the history in order.
      const again = await run('advance', '--json');
      expect(again.code, again.stderr).toBe(0);
      expect(again.json()).toMatchObject({ migrations: [] });
      const status = await run('status', id, '--json');
      expect(status.json()).toMatchObject({ migrations: [{ id, state: 'contract', complete: true }] });
      const rb = await run('rollback', id);
      expect(rb.code).toBe(3);
      expect(rb.stderr).toContain(`rollback of ${id} refused: contract has run`);
      const applied = (await ledgerRuns()).filter((x) => x.action === 'apply');
      expect(applied.slice(-4)).toEqual(
        ['expand', 'dual-write', 'backfill', 'contract'].map((phase) => ({ action: 'apply', phase, status: 'succeeded' })),
      );
    },
  };
}
