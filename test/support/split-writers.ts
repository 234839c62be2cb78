import pg from 'pg';
import { expect } from 'vitest';
import type { WriterStats } from '../../src/demo/writers.js';
import { ident, qualified } from '../../src/sql/ident.js';
import type { TestDatabase } from './database.js';
import type { CheckPoint, LifecycleWriter } from './lifecycle.js';

/** What a row should hold after the last write of one app version. */
export type NameWrite = { full: string | null } | { first: string | null; last: string | null };

export interface NameWriterOptions {
  url: string;
  label: string;
  schema: string;
  table: string;
  /** The old app writes `full`; the new app writes `first` and `last`. */
  app: 'old' | 'new';
  columns: { full: string; first: string; last: string };
  /** Existing rows this writer may update (disjoint from the other writer's). */
  ownsKey: (id: number) => boolean;
  maxExistingId: number;
}

/**
 * One app version of a splitColumn migration: the old one writes the full name, the new one the
 * first and last names (sometimes a first name with a space, or no last name: values that do not
 * survive a trip through `down` and back `up`). INSERTs and UPDATEs, one at a time; the last value
 * written per row is remembered, to check row by row afterwards (`check`, for the lifecycle table).
 */
export class NameWriter implements LifecycleWriter {
  readonly expected = new Map<number, NameWrite>();
  readonly stats: WriterStats;
  private readonly client: pg.Client;
  private running = false;
  private loop: Promise<void> | null = null;
  private seq = 0;
  private readonly own: number[] = [];

  constructor(private readonly o: NameWriterOptions) {
    this.stats = { label: o.label, inserts: 0, updates: 0, errors: 0, lastError: null };
    this.client = new pg.Client({ connectionString: o.url, application_name: `app ${o.label}` });
    this.client.on('error', (error) => {
      this.stats.errors++;
      this.stats.lastError = error.message;
    });
  }

  get writes(): number {
    return this.stats.inserts + this.stats.updates;
  }

  async start(): Promise<void> {
    await this.client.connect();
    this.running = true;
    this.loop = this.run();
  }

  async waitForWrites(n: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.writes < n) {
      if (!this.running) throw new Error(`writer ${this.o.label} is not running`);
      if (Date.now() > deadline) throw new Error(`writer ${this.o.label} made fewer than ${n} writes in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async stop(): Promise<WriterStats> {
    if (this.running) {
      this.running = false;
      await this.loop;
      await this.client.end();
    }
    return this.stats;
  }

  /**
   * Rows not holding what this writer last wrote: until contract in the full name (a new-app write
   * as `down` of it, i.e. joined), after contract in the first and last names (an old-app write as
   * `up` of it, i.e. split). The new app's own values are compared as written.
   */
  async check(db: TestDatabase, when: CheckPoint): Promise<unknown[]> {
    expect(this.expected.size, `${this.o.label} app wrote nothing`).toBeGreaterThan(0);
    const { full, first, last } = this.o.columns;
    const split = when === 'contracted';
    const rows = await db.query<{ id: string; full?: string | null; first?: string | null; last?: string | null }>(
      `SELECT id::text AS id, ${split ? `${ident(first)} AS first, ${ident(last)} AS last` : `${ident(full)} AS full`}
         FROM ${qualified(this.o.schema, this.o.table)} WHERE id = ANY($1::bigint[])`,
      [[...this.expected.keys()]],
    );
    const actual = new Map(rows.map((r) => [Number(r.id), r]));
    const wrong: unknown[] = [];
    for (const [id, v] of this.expected) {
      const want = split ? ('full' in v ? splitName(v.full) : v) : { full: 'full' in v ? v.full : joinName(v.first, v.last) };
      const got = actual.get(id);
      const have = got ? (split ? { first: got.first, last: got.last } : { full: got.full }) : null;
      if (JSON.stringify(have) !== JSON.stringify(want)) wrong.push({ id, expected: want, actual: have });
    }
    return wrong;
  }

  private value(): NameWrite {
    const n = `${this.o.label}${++this.seq}`;
    if (this.o.app === 'old') return { full: this.seq % 9 === 0 ? `Solo${n}` : this.seq % 4 === 0 ? `Anne ${n} de Vries` : `Ann ${n}` };
    if (this.seq % 5 === 0) return { first: `Mary Ann${n}`, last: 'Smith' };
    if (this.seq % 7 === 0) return { first: `Prince${n}`, last: null };
    return { first: `Jo${n}`, last: `Doe${n}` };
  }

  private async writeOnce(): Promise<void> {
    const { columns: c } = this.o;
    const t = qualified(this.o.schema, this.o.table);
    const v = this.value();
    const cols = 'full' in v ? [c.full] : [c.first, c.last];
    const params = 'full' in v ? [v.full] : [v.first, v.last];
    if (Math.random() < 0.3 || this.own.length === 0) {
      const { rows } = await this.client.query<{ id: string }>(
        `INSERT INTO ${t} (${cols.map(ident).join(', ')}) VALUES (${params.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id::text AS id`,
        params,
      );
      const id = Number(rows[0]!.id);
      this.own.push(id);
      this.expected.set(id, v);
      this.stats.inserts++;
      return;
    }
    const id = this.pick();
    const set = cols.map((col, i) => `${ident(col)} = $${i + 1}`).join(', ');
    const result = await this.client.query(`UPDATE ${t} SET ${set} WHERE id = $${params.length + 1}`, [...params, id]);
    if (result.rowCount === 1) {
      this.expected.set(id, v);
      this.stats.updates++;
    }
  }

  private pick(): number {
    for (;;) {
      if (Math.random() < 0.3) return this.own[Math.floor(Math.random() * this.own.length)]!;
      const id = 1 + Math.floor(Math.random() * this.o.maxExistingId);
      if (this.o.ownsKey(id)) return id;
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
      await new Promise((r) => setTimeout(r, 1));
    }
  }
}

/** `up` of the test plans, in JavaScript: the first word, and the rest (NULL when empty). */
export function splitName(full: string | null): { first: string | null; last: string | null } {
  if (full === null) return { first: null, last: null };
  const i = full.indexOf(' ');
  return i < 0 ? { first: full, last: null } : { first: full.slice(0, i), last: full.slice(i + 1) || null };
}

/** `down` of the test plans: concat_ws(' ', first, last). */
export function joinName(first: string | null, last: string | null): string {
  return [first, last].filter((x) => x !== null).join(' ');
}
