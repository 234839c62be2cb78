import { expect } from 'vitest';
import { WriterLoop } from '../../tools/demo/writers.js';
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
export class NameWriter extends WriterLoop<NameWrite> implements LifecycleWriter {
  constructor(private readonly o: NameWriterOptions) {
    super(o.label, o.url, 1);
  }

  get writes(): number {
    return this.stats.inserts + this.stats.updates;
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

  protected async writeOnce(): Promise<void> {
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
      this.inserted(Number(rows[0]!.id), v);
      return;
    }
    const id = this.pickRow(this.o.maxExistingId, this.o.ownsKey);
    if (id < 0) return;
    const set = cols.map((col, i) => `${ident(col)} = $${i + 1}`).join(', ');
    const result = await this.client.query(`UPDATE ${t} SET ${set} WHERE id = $${params.length + 1}`, [...params, id]);
    if (result.rowCount === 1) this.updated(id, v);
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
