import pg from 'pg';
import { ident, qualified } from '../../src/sql/ident.js';

export interface AppWriterOptions {
  /** Connection URL of the app's database. */
  url: string;
  label: string;
  schema?: string;
  table: string;
  key: string;
  /** The column this app version writes. */
  column: string;
  /** Existing rows this writer may update (disjoint from other writers', so the last value is known). */
  ownsKey: (id: number) => boolean;
  /** Highest existing key at start; updates pick ids in [1, maxExistingId]. */
  maxExistingId: number;
  /** Pause between writes, in ms (0 = as fast as one connection goes). */
  pauseMs?: number;
  /** Share of writes that are INSERTs (the rest are UPDATEs). */
  insertShare?: number;
  /** Extra columns and values for INSERTs (e.g. NOT NULL columns the table requires). */
  insertExtras?: Record<string, unknown>;
}

export interface WriterStats {
  label: string;
  inserts: number;
  updates: number;
  errors: number;
  lastError: string | null;
}

/**
 * The loop every stand-in app version shares: one connection, one write at a time, failures
 * counted rather than thrown (a write refused mid-migration is data for the checks), and the last
 * value written per row remembered, so that "nothing was lost" can be checked row by row
 * afterwards rather than by counting. A subclass says what one write is.
 */
export abstract class WriterLoop<Value> {
  readonly expected = new Map<number, Value>();
  readonly stats: WriterStats;
  protected readonly client: pg.Client;
  /** Writes so far, for values unique to this writer. */
  protected seq = 0;
  /** Rows this writer inserted (it may update them too). */
  protected readonly own: number[] = [];
  private running = false;
  private loop: Promise<void> | null = null;

  constructor(
    protected readonly label: string,
    url: string,
    private readonly pauseMs: number,
  ) {
    this.stats = { label, inserts: 0, updates: 0, errors: 0, lastError: null };
    this.client = new pg.Client({ connectionString: url, application_name: `app ${label}` });
    this.client.on('error', (error) => {
      this.stats.errors++;
      this.stats.lastError = error.message;
    });
  }

  /** One INSERT or UPDATE; record it with `inserted` / `updated`. */
  protected abstract writeOnce(): Promise<void>;

  async start(): Promise<void> {
    await this.client.connect();
    this.running = true;
    this.loop = this.run();
  }

  /** Resolves once this writer has made at least `n` successful writes in all. */
  async waitForWrites(n: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.stats.inserts + this.stats.updates < n) {
      if (!this.running) throw new Error(`writer ${this.label} is not running`);
      if (Date.now() > deadline) throw new Error(`writer ${this.label} made fewer than ${n} writes in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Stops after the write in flight (a second call does nothing); returns the stats. */
  async stop(): Promise<WriterStats> {
    if (this.running) {
      this.running = false;
      await this.loop;
      await this.client.end();
    }
    return this.stats;
  }

  protected inserted(id: number, value: Value): void {
    this.own.push(id);
    this.expected.set(id, value);
    this.stats.inserts++;
  }

  protected updated(id: number, value: Value): void {
    this.expected.set(id, value);
    this.stats.updates++;
  }

  /** A row to update: one of its own inserts 30% of the time, else a seeded row in [1, max] it owns; -1 if none turns up. */
  protected pickRow(maxExistingId: number, ownsKey: (id: number) => boolean): number {
    for (let tries = 0; tries < 20; tries++) {
      const useOwn = this.own.length > 0 && Math.random() < 0.3;
      const id = useOwn ? this.own[Math.floor(Math.random() * this.own.length)]! : 1 + Math.floor(Math.random() * maxExistingId);
      if (useOwn || ownsKey(id)) return id;
    }
    return -1;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.writeOnce();
      } catch (error) {
        this.stats.errors++;
        this.stats.lastError = (error as Error).message;
      }
      if (this.pauseMs) await new Promise((r) => setTimeout(r, this.pauseMs));
    }
  }
}

/** A stand-in for one app version that writes one text column by name. */
export class AppWriter extends WriterLoop<string> {
  constructor(private readonly options: AppWriterOptions) {
    super(options.label, options.url, options.pauseMs ?? 0);
  }

  private table(): string {
    return qualified(this.options.schema ?? 'public', this.options.table);
  }

  protected async writeOnce(): Promise<void> {
    const o = this.options;
    const value = `${o.label}-${++this.seq}-${Math.random().toString(36).slice(2, 8)}@example.com`;
    if (Math.random() < (o.insertShare ?? 0.3)) {
      const extras = Object.entries(o.insertExtras ?? {});
      const cols = [o.column, ...extras.map(([k]) => k)].map(ident).join(', ');
      const params = [value, ...extras.map(([, v]) => v)];
      const { rows } = await this.client.query<{ id: string }>(
        `INSERT INTO ${this.table()} (${cols}) VALUES (${params.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING ${ident(o.key)}::text AS id`,
        params,
      );
      this.inserted(Number(rows[0]!.id), value);
    } else {
      const id = this.pickRow(o.maxExistingId, o.ownsKey);
      if (id < 0) return;
      const result = await this.client.query(`UPDATE ${this.table()} SET ${ident(o.column)} = $1 WHERE ${ident(o.key)} = $2`, [value, id]);
      if (result.rowCount === 1) this.updated(id, value);
    }
  }
}

export interface WriteCheck {
  issued: number;
  found: number;
  missing: { id: number; expected: string; actual: string | null }[];
}

/** Compares every row the writers wrote with what the table holds now, in `column`. */
export async function checkWrites(
  db: Pick<pg.ClientBase, 'query'>,
  table: { schema?: string; name: string; key: string; column: string },
  writers: readonly AppWriter[],
): Promise<WriteCheck> {
  const expected = new Map<number, string>();
  for (const w of writers) for (const [id, v] of w.expected) expected.set(id, v);
  const ids = [...expected.keys()];
  const { rows } = await db.query<{ id: string; value: string | null }>(
    `SELECT ${ident(table.key)}::text AS id, ${ident(table.column)}::text AS value FROM ${qualified(table.schema ?? 'public', table.name)}
      WHERE ${ident(table.key)} = ANY($1::bigint[])`,
    [ids],
  );
  const actual = new Map(rows.map((r) => [Number(r.id), r.value]));
  const missing: WriteCheck['missing'] = [];
  for (const [id, v] of expected) {
    const a = actual.get(id) ?? null;
    if (a !== v) missing.push({ id, expected: v, actual: a });
  }
  return { issued: expected.size, found: expected.size - missing.length, missing };
}
