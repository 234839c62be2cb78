import pg from 'pg';
import { BACKFILL_SETTING } from '../src/operations/blocks/names.js';
import { ident, literal } from '../src/sql/ident.js';
import { summarize, type Summary } from './stats.js';
import { FROM_COLUMN, TO_COLUMN } from './tables.js';

/** What one strategy did, as measured by the harness. */
export interface StrategyRun {
  /** Wall time of the work actually run, in seconds. */
  measuredSeconds: number;
  /** Rows the strategy's UPDATEs reported (row count), in the time measured. */
  rowsUpdated: number;
  /** The run stopped at its time cap; the total time is extrapolated from the rows done. */
  capped: boolean;
  /** What one "batch" is for this strategy (statement, page, batch, range). */
  batchUnit: string;
  batches: number;
  batchMs: Summary;
  /**
   * (b) only, when capped: the whole table's time from a least-squares line through page time
   * against offset (an OFFSET page costs more the further it starts), summed over every page.
   */
  fittedSeconds?: number | null;
}

/** Σ over all pages of (α + β·offset), with α, β fitted to the measured pages. */
function fitOffsetPages(offsets: readonly number[], ms: readonly number[], rows: number, pageRows: number): number | null {
  const n = offsets.length;
  if (n < 3) return null;
  const mx = offsets.reduce((a, b) => a + b, 0) / n;
  const my = ms.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += ((offsets[i] as number) - mx) * ((ms[i] as number) - my);
    sxx += ((offsets[i] as number) - mx) ** 2;
  }
  if (sxx === 0) return null;
  const beta = Math.max(0, sxy / sxx);
  const alpha = my - beta * mx;
  const pages = Math.ceil(rows / pageRows);
  // Σ_{k<pages} (α + β·k·pageRows)
  const totalMs = pages * alpha + beta * pageRows * ((pages * (pages - 1)) / 2);
  return totalMs / 1000;
}

export interface StrategyContext {
  url: string;
  table: string;
  /** Called when the timed work starts (the app load's "during" window opens). */
  onStart: () => void;
}

async function connect(url: string, label: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: `bench ${label}` });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

async function withClient<T>(ctx: StrategyContext, label: string, body: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(ctx.url, label);
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

async function keyBounds(c: pg.Client, table: string): Promise<{ min: number; max: number } | null> {
  const { rows } = await c.query<{ min: string | null; max: string | null }>(
    `SELECT min(id)::text AS min, max(id)::text AS max FROM ${ident(table)}`,
  );
  const r = rows[0];
  return r?.min == null || r.max == null ? null : { min: Number(r.min), max: Number(r.max) };
}

/** (a) One UPDATE over the whole table, one transaction. */
export function oneUpdate(ctx: StrategyContext): Promise<StrategyRun> {
  return withClient(ctx, 'a', async (c) => {
    const sql = `UPDATE ${ident(ctx.table)} SET ${ident(TO_COLUMN)} = ${ident(FROM_COLUMN)}`;
    ctx.onStart();
    const t0 = performance.now();
    const result = await c.query(sql);
    const ms = performance.now() - t0;
    return {
      measuredSeconds: ms / 1000,
      rowsUpdated: result.rowCount ?? 0,
      capped: false,
      batchUnit: 'statement',
      batches: 1,
      batchMs: summarize([ms]),
    };
  });
}

export type OffsetCommit = 'once' | 'page' | 'row';

/**
 * (b) The Alembic tutorial's data migration: `LIMIT 1000 OFFSET n` pages, then one UPDATE per
 * row. `commit`: 'once' (default) runs it all in the migration's one transaction, as Alembic runs
 * an upgrade on PostgreSQL; 'page' commits after each page; 'row' runs every UPDATE in autocommit.
 * Stops at `capSeconds` and commits what it did.
 */
export function offsetPages(
  ctx: StrategyContext,
  capSeconds: number,
  tableRows: number,
  commit: OffsetCommit = 'once',
): Promise<StrategyRun> {
  return withClient(ctx, 'b', async (c) => {
    const t = ident(ctx.table);
    const page = `SELECT id, ${ident(FROM_COLUMN)} AS value FROM ${t} ORDER BY id LIMIT 1000 OFFSET $1`;
    const update = `UPDATE ${t} SET ${ident(TO_COLUMN)} = $1 WHERE id = $2`;
    const pageMs: number[] = [];
    const pageOffsets: number[] = [];
    let rowsUpdated = 0;
    let offset = 0;
    let capped = false;
    let open = false;
    const begin = async () => {
      await c.query('BEGIN');
      open = true;
    };
    const end = async () => {
      if (open) await c.query('COMMIT');
      open = false;
    };
    ctx.onStart();
    const t0 = performance.now();
    const deadline = t0 + capSeconds * 1000;
    try {
      if (commit === 'once') await begin();
      pages: for (;;) {
        const p0 = performance.now();
        if (commit === 'page') await begin();
        const { rows } = await c.query<{ id: string; value: string }>(page, [offset]);
        if (rows.length === 0) break;
        for (const row of rows) {
          const result = await c.query(update, [row.value, row.id]);
          rowsUpdated += result.rowCount ?? 0;
          if (performance.now() >= deadline) {
            capped = true;
            break pages;
          }
        }
        if (commit === 'page') await end();
        pageMs.push(performance.now() - p0);
        pageOffsets.push(offset);
        offset += rows.length;
        if (rows.length < 1000) break;
      }
      await end();
    } catch (error) {
      if (open) await c.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    const seconds = (performance.now() - t0) / 1000;
    return {
      measuredSeconds: seconds,
      rowsUpdated,
      capped,
      batchUnit: 'page',
      batches: pageMs.length,
      batchMs: summarize(pageMs),
      fittedSeconds: capped ? fitOffsetPages(pageOffsets, pageMs, tableRows, 1000) : null,
    };
  });
}

/**
 * (c) pgroll's method: keyset batches of 1000 keys, each `UPDATE t SET id = id` over its range
 * (autocommit) only to fire the per-row plpgsql trigger that computes the new value.
 */
export function pgrollBatches(ctx: StrategyContext): Promise<StrategyRun> {
  return withClient(ctx, 'c', async (c) => {
    const t = ident(ctx.table);
    const boundary = `SELECT id::text AS id FROM ${t} WHERE id > $1 ORDER BY id OFFSET 999 LIMIT 1`;
    const last = `SELECT max(id)::text AS id FROM ${t} WHERE id > $1`;
    const update = `UPDATE ${t} SET id = id WHERE id > $1 AND id <= $2`;
    const batchMs: number[] = [];
    let rowsUpdated = 0;
    ctx.onStart();
    const t0 = performance.now();
    const bounds = await keyBounds(c, ctx.table);
    let cursor = bounds ? String(bounds.min - 1) : null;
    while (cursor !== null) {
      const upper =
        (await c.query<{ id: string }>(boundary, [cursor])).rows[0]?.id ??
        (await c.query<{ id: string | null }>(last, [cursor])).rows[0]?.id ??
        null;
      if (upper === null) break;
      const b0 = performance.now();
      const result = await c.query(update, [cursor, upper]);
      batchMs.push(performance.now() - b0);
      rowsUpdated += result.rowCount ?? 0;
      cursor = upper;
    }
    const seconds = (performance.now() - t0) / 1000;
    return {
      measuredSeconds: seconds,
      rowsUpdated,
      capped: false,
      batchUnit: 'batch',
      batches: batchMs.length,
      batchMs: summarize(batchMs),
    };
  });
}

/**
 * (f) A DBA's hand-written loop: `UPDATE t SET new = old WHERE id > lo AND id <= lo + step`
 * over min..max by id arithmetic, autocommit per range, no throttling; `connections` loops run
 * at once on disjoint parts of the key range. With `skipTrigger`, each range is its own transaction
 * that first sets pgshift's trigger-skip setting (`set_config('pgshift.backfill', 'on', true)`), so
 * the dual-write trigger's WHEN condition skips the loop's rows, as it does for pgshift's batches.
 */
export async function keysetLoop(ctx: StrategyContext, step: number, connections: number, skipTrigger = false): Promise<StrategyRun> {
  const clients = await Promise.all(Array.from({ length: connections }, (_, i) => connect(ctx.url, `f${i}`)));
  try {
    const t = ident(ctx.table);
    const update = `UPDATE ${t} SET ${ident(TO_COLUMN)} = ${ident(FROM_COLUMN)} WHERE id > $1 AND id <= $2`;
    const batchMs: number[] = [];
    let rowsUpdated = 0;
    ctx.onStart();
    const t0 = performance.now();
    const bounds = await keyBounds(clients[0] as pg.Client, ctx.table);
    if (bounds) {
      const start = bounds.min - 1;
      const span = bounds.max - start;
      const parts = clients.map((c, i) => ({
        c,
        from: start + Math.floor((span * i) / connections),
        to: start + Math.floor((span * (i + 1)) / connections),
      }));
      await Promise.all(
        parts.map(async ({ c, from, to }) => {
          for (let lo = from; lo < to; lo += step) {
            const b0 = performance.now();
            if (skipTrigger) await c.query(`BEGIN; SELECT pg_catalog.set_config(${literal(BACKFILL_SETTING)}, 'on', true)`);
            const result = await c.query(update, [lo, Math.min(lo + step, to)]);
            if (skipTrigger) await c.query('COMMIT');
            batchMs.push(performance.now() - b0);
            rowsUpdated += result.rowCount ?? 0;
          }
        }),
      );
    }
    const seconds = (performance.now() - t0) / 1000;
    return {
      measuredSeconds: seconds,
      rowsUpdated,
      capped: false,
      batchUnit: 'range',
      batches: batchMs.length,
      batchMs: summarize(batchMs),
    };
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}
