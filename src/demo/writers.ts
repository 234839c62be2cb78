import pg from 'pg';
import { ident, qualified } from '../sql/ident.js';

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
 * A stand-in for one app version: it writes only the column it knows, one statement at a time,
 * and remembers the last value it wrote per row, so that "nothing was lost" can be checked
 * row by row afterwards rather than by counting.
 */
export class AppWriter {
  readonly expected = new Map<number, string>();
  readonly stats: WriterStats;
  private readonly client: pg.Client;
  private running = false;
  private loop: Promise<void> | null = null;
  private seq = 0;
  private readonly own: number[] = [];

  constructor(private readonly options: AppWriterOptions) {
    this.stats = { label: options.label, inserts: 0, updates: 0, errors: 0, lastError: null };
    this.client = new pg.Client({ connectionString: options.url, application_name: `app ${options.label}` });
    // A connection lost while idle emits 'error'; count it instead of crashing the process.
    this.client.on('error', (error) => {
      this.stats.errors++;
      this.stats.lastError = error.message;
    });
  }

  async start(): Promise<void> {
    await this.client.connect();
    this.running = true;
    this.loop = this.run();
  }

  /** Resolves once this writer has made at least `n` successful writes in all. */
  async waitForWrites(n: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.stats.inserts + this.stats.updates < n) {
      if (!this.running) throw new Error(`writer ${this.options.label} is not running`);
      if (Date.now() > deadline) throw new Error(`writer ${this.options.label} made fewer than ${n} writes in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Stops after the write in flight; returns the stats. */
  async stop(): Promise<WriterStats> {
    this.running = false;
    await this.loop;
    await this.client.end();
    return this.stats;
  }

  private table(): string {
    return qualified(this.options.schema ?? 'public', this.options.table);
  }

  private pickExisting(): number {
    const o = this.options;
    for (let tries = 0; tries < 20; tries++) {
      const useOwn = this.own.length > 0 && Math.random() < 0.3;
      const id = useOwn ? this.own[Math.floor(Math.random() * this.own.length)]! : 1 + Math.floor(Math.random() * o.maxExistingId);
      if (useOwn || o.ownsKey(id)) return id;
    }
    return -1;
  }

  private async writeOnce(): Promise<void> {
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
      const id = Number(rows[0]!.id);
      this.own.push(id);
      this.expected.set(id, value);
      this.stats.inserts++;
    } else {
      const id = this.pickExisting();
      if (id < 0) return;
      const result = await this.client.query(`UPDATE ${this.table()} SET ${ident(o.column)} = $1 WHERE ${ident(o.key)} = $2`, [value, id]);
      if (result.rowCount === 1) {
        this.expected.set(id, value);
        this.stats.updates++;
      }
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.writeOnce();
      } catch (error) {
        this.stats.errors++;
        this.stats.lastError = (error as Error).message;
      }
      if (this.options.pauseMs) await new Promise((r) => setTimeout(r, this.options.pauseMs));
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
