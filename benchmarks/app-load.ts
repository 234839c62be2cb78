import pg from 'pg';
import { ident } from '../src/sql/ident.js';
import { round, sleep, summarize, type Summary } from './stats.js';

export interface AppLoadOptions {
  url: string;
  table: string;
  /** Writes per second, over all connections (open loop: a slow write does not delay the next). */
  rate: number;
  /** Updates pick ids in [1, maxExistingId]. */
  maxExistingId: number;
  /** Share of writes that are INSERTs; the rest are single-row UPDATEs. */
  insertShare: number;
  /** Connections of the app's pool; writes queue in the pool when all are busy (as in an app). */
  connections: number;
}

export interface LoadWindow {
  /** Writes scheduled in this window that completed. */
  writes: number;
  errors: number;
  lastError: string | null;
  seconds: number;
  /** Completed writes per second over the window. */
  achievedRate: number;
  /**
   * Latency from the moment the write is handed to the app's pool to its completion, in ms: time
   * queued for a free connection (all busy behind the strategy's locks) included.
   */
  latencyMs: Summary;
  /** How late the harness issued writes against their schedule (its own event-loop delay), in ms. */
  issueLagMs: Summary;
}

interface Window {
  latencies: number[];
  lags: number[];
  errors: number;
  lastError: string | null;
  openedAt: number;
  closedAt: number | null;
}

/**
 * A steady app load: single-row UPDATEs of random existing rows (name or status) and single-row
 * INSERTs at a fixed total rate. Every write is labelled with the window open when it was
 * scheduled ("before", "during", ...), so writes that wait behind the strategy's locks count in
 * the window that caused the wait.
 */
export class AppLoad {
  private readonly pool: pg.Pool;
  private timer: NodeJS.Timeout | null = null;
  private next = 0;
  private seq = 0;
  private inFlight = 0;
  private current: string | null = null;
  private readonly windows = new Map<string, Window>();
  private readonly update: [string, string];
  private readonly insert: string;

  constructor(private readonly options: AppLoadOptions) {
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.connections,
      idleTimeoutMillis: 0,
      application_name: 'bench app',
    });
    this.pool.on('error', () => undefined); // an idle client's error surfaces on its next query
    const t = ident(options.table);
    this.update = [`UPDATE ${t} SET name = $1 WHERE id = $2`, `UPDATE ${t} SET status = $1 WHERE id = $2`];
    this.insert = `INSERT INTO ${t} (email, name, status, created_at, amount) VALUES ($1, $2, 'pending', now(), $3)`;
  }

  /** Opens the connections (not timed), then starts writing. */
  async start(): Promise<void> {
    const clients = await Promise.all(Array.from({ length: this.options.connections }, () => this.pool.connect()));
    for (const c of clients) c.release();
    const interval = 1000 / this.options.rate;
    this.next = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      while (this.next <= now) {
        this.issue(this.next);
        this.next += interval;
      }
    }, 1);
  }

  /** Writes scheduled from now on count in window `label` (null: not recorded). */
  setWindow(label: string | null): void {
    const now = performance.now();
    if (this.current) {
      const w = this.windows.get(this.current);
      if (w) w.closedAt = now;
    }
    this.current = label;
    if (label) this.windows.set(label, { latencies: [], lags: [], errors: 0, lastError: null, openedAt: now, closedAt: null });
  }

  private issue(scheduledAt: number): void {
    const window = this.current ? this.windows.get(this.current) : undefined;
    const n = ++this.seq;
    const issuedAt = performance.now();
    window?.lags.push(issuedAt - scheduledAt);
    let query: Promise<unknown>;
    if (Math.random() < this.options.insertShare) {
      query = this.pool.query(this.insert, [`app-${n}@example.com`, `App user ${n}`, (n % 100_000) / 100]);
    } else {
      const id = 1 + Math.floor(Math.random() * this.options.maxExistingId);
      query = this.pool.query(this.update[n % 2] as string, [`app ${n}`, id]);
    }
    this.inFlight++;
    query
      .then(
        () => window?.latencies.push(performance.now() - issuedAt),
        (error: unknown) => {
          if (!window) return;
          window.errors++;
          window.lastError = (error as Error).message;
        },
      )
      .finally(() => {
        this.inFlight--;
      });
  }

  /** Stops scheduling, waits for writes in flight (at most `timeoutMs`), closes the pool. */
  async stop(timeoutMs = 120_000): Promise<void> {
    this.setWindow(null);
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const deadline = performance.now() + timeoutMs;
    while (this.inFlight > 0 && performance.now() < deadline) await sleep(20);
    await this.pool.end();
  }

  result(label: string): LoadWindow | null {
    const w = this.windows.get(label);
    if (!w) return null;
    const seconds = ((w.closedAt ?? performance.now()) - w.openedAt) / 1000;
    return {
      writes: w.latencies.length,
      errors: w.errors,
      lastError: w.lastError,
      seconds: round(seconds),
      achievedRate: seconds > 0 ? round(w.latencies.length / seconds, 1) : 0,
      latencyMs: summarize(w.latencies),
      issueLagMs: summarize(w.lags),
    };
  }
}
