import type pg from 'pg';
import type { TableRef } from '../catalog/introspect.js';
import { queryRows, type Queryable } from '../db/queryable.js';
import { SqlState, sqlStateOf } from '../errors.js';
import type { Logger } from '../logger.js';
import { literal, qualified } from '../sql/ident.js';

/**
 * The disk side of a backfill: every updated row leaves a dead version behind, so a table
 * backfilled in one go ends about twice its size. Vacuuming the part already done every
 * `--vacuum-every` percent of the rows lets the later batches reuse that space.
 */

/** What runs now on the table that the backfill's own VACUUM must not compete with. */
export interface TableActivity {
  vacuums: readonly { pid: number; auto: boolean; wraparound: boolean }[];
  indexBuilds: readonly { pid: number; command: string }[];
}

/**
 * Why the backfill's own VACUUM should not run now, or null. An anti-wraparound autovacuum must
 * not be disturbed (our VACUUM would queue behind its lock, and it is the one that matters); a
 * concurrent index build waits for every transaction that could see old rows, a VACUUM included,
 * and would be slowed. The backfill's own backends are left out.
 */
export function vacuumSkipReason(activity: TableActivity, own: ReadonlySet<number>): string | null {
  const wrap = activity.vacuums.find((v) => v.wraparound && !own.has(v.pid));
  if (wrap) return `anti-wraparound autovacuum running (pid ${wrap.pid})`;
  const build = activity.indexBuilds.find((b) => !own.has(b.pid));
  if (build) return `${build.command} running (pid ${build.pid})`;
  return null;
}

export async function tableActivity(db: Queryable, table: TableRef): Promise<TableActivity> {
  const rel = `to_regclass(${literal(qualified(table.schema, table.name))})`;
  const vacuums = await queryRows<{ pid: number; auto: boolean; wraparound: boolean }>(
    db,
    `SELECT v.pid, a.backend_type = 'autovacuum worker' AS auto,
            coalesce(a.query LIKE '%(to prevent wraparound)%', false) AS wraparound
       FROM pg_catalog.pg_stat_progress_vacuum v JOIN pg_catalog.pg_stat_activity a ON a.pid = v.pid
      WHERE v.relid = ${rel}`,
  );
  const indexBuilds = await queryRows<{ pid: number; command: string }>(
    db,
    `SELECT pid, command FROM pg_catalog.pg_stat_progress_create_index WHERE relid = ${rel}`,
  );
  return { vacuums, indexBuilds };
}

export interface TableSize {
  /** pg_table_size: heap, free space map, visibility map and TOAST, in bytes. */
  heapBytes: number;
  /** pg_indexes_size, in bytes. */
  indexBytes: number;
}

export async function tableSize(db: Queryable, table: TableRef): Promise<TableSize> {
  const rel = `${literal(qualified(table.schema, table.name))}::regclass`;
  const [row] = await queryRows<{ heap: string; idx: string }>(
    db,
    `SELECT pg_catalog.pg_table_size(${rel}) AS heap, pg_catalog.pg_indexes_size(${rel}) AS idx`,
  );
  return { heapBytes: Number(row!.heap), indexBytes: Number(row!.idx) };
}

/** The VACUUM the backfill runs: no truncation (it takes ACCESS EXCLUSIVE), index cleanup forced. */
export function vacuumSql(table: TableRef): string {
  return `VACUUM (INDEX_CLEANUP ON, TRUNCATE OFF) ${qualified(table.schema, table.name)}`;
}

export interface VacuumSummary {
  everyPercent: number | null;
  runs: number;
  skipped: { atRows: number; reason: string }[];
  /** Total time spent in the backfill's own VACUUMs, ms. */
  ms: number;
}

/**
 * Runs the table's VACUUM each time the rows updated in this run cross another `everyPercent` of
 * the estimate. In the background, on its own pooled connection, while the batches go on (the
 * VACUUM's SHARE UPDATE EXCLUSIVE lock does not conflict with the batches' ROW EXCLUSIVE), so the
 * backfill does not wait for it; one at a time: a step that comes due while one runs starts when
 * that one ends. Outside a transaction, with a short lock_timeout: when the lock is not free at
 * once it skips instead of queueing (a queued VACUUM would block other lock requests behind it).
 * `settle()` waits for the running one (the backfill calls it before its final steps, whose
 * VALIDATE takes the same lock); `settle({ cancel: true })` cancels it first, for a stopped run.
 */
export class VacuumStep {
  private readonly stepRows: number | null;
  private nextAt: number;
  private running: Promise<void> | null = null;
  private runningPid: number | null = null;
  /** Rows updated so far, as last reported; a step that came due while one ran uses it. */
  private latestRows = 0;
  private failure: unknown = null;
  readonly summary: VacuumSummary;

  constructor(
    private readonly pool: pg.Pool,
    private readonly table: TableRef,
    everyPercent: number | null,
    estimate: number | null,
    private readonly lockTimeoutMs: number,
    private readonly own: Set<number>,
    private readonly log: Logger,
  ) {
    this.stepRows = everyPercent !== null && estimate ? Math.max(1, Math.floor((estimate * everyPercent) / 100)) : null;
    this.nextAt = this.stepRows ?? Infinity;
    this.summary = { everyPercent, runs: 0, skipped: [], ms: 0 };
  }

  /** Called after each batch with the rows updated in this run so far; starts a VACUUM when one is due. */
  afterBatch(rowsUpdated: number): void {
    if (this.failure !== null) throw this.failure;
    this.latestRows = Math.max(this.latestRows, rowsUpdated);
    if (this.stepRows === null || this.running || this.latestRows < this.nextAt) return;
    const atRows = this.latestRows;
    this.nextAt = (Math.floor(atRows / this.stepRows) + 1) * this.stepRows;
    this.running = this.run(atRows)
      .catch((error: unknown) => {
        this.failure ??= error;
      })
      .finally(() => {
        this.running = null;
        if (this.failure === null) this.afterBatch(this.latestRows);
      });
  }

  /**
   * Waits until no VACUUM of the step runs; with `cancel`, cancels the running one first (a
   * cancelled VACUUM loses nothing). Throws what a VACUUM failed with, other than a lock timeout.
   */
  async settle(options: { cancel?: boolean } = {}): Promise<void> {
    if (options.cancel) this.nextAt = Infinity;
    while (this.running) {
      if (options.cancel && this.runningPid !== null)
        await this.pool.query('SELECT pg_catalog.pg_cancel_backend($1)', [this.runningPid]).catch(() => undefined);
      await this.running;
    }
    if (this.failure !== null && !options.cancel) throw this.failure;
  }

  private async run(atRows: number): Promise<void> {
    const skip = (reason: string) => {
      this.summary.skipped.push({ atRows, reason });
      this.log.warn({ table: this.table.name, atRows, reason }, `backfill vacuum skipped: ${reason}`);
    };
    const client = await this.pool.connect();
    let pid: number | null = null;
    try {
      const [me] = await queryRows<{ pid: number }>(client, 'SELECT pg_catalog.pg_backend_pid() AS pid');
      pid = me!.pid;
      const reason = vacuumSkipReason(await tableActivity(client, this.table), new Set([...this.own, pid]));
      if (reason) return skip(reason);
      this.own.add(pid);
      this.runningPid = pid;
      await client.query(
        `SELECT pg_catalog.set_config('lock_timeout', $1, false), pg_catalog.set_config('statement_timeout', '0', false)`,
        [`${this.lockTimeoutMs}ms`],
      );
      const t0 = performance.now();
      try {
        await client.query(vacuumSql(this.table));
      } catch (error) {
        const state = sqlStateOf(error);
        if (state === SqlState.lockNotAvailable) return skip(`lock not free within lock_timeout ${this.lockTimeoutMs}ms`);
        if (state === SqlState.queryCanceled) return skip('cancelled: the backfill stopped');
        throw error;
      } finally {
        this.runningPid = null;
        await client.query('RESET lock_timeout; RESET statement_timeout').catch(() => undefined);
      }
      const ms = performance.now() - t0;
      this.summary.runs += 1;
      this.summary.ms += ms;
      this.log.info({ table: this.table.name, atRows, ms: Math.round(ms) }, 'backfill vacuumed the table');
    } finally {
      if (pid !== null) this.own.delete(pid);
      client.release();
    }
  }
}
