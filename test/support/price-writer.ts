import { expect } from 'vitest';
import { WriterLoop } from '../../tools/demo/writers.js';
import { ident } from '../../src/sql/ident.js';
import type { TestDatabase } from './database.js';
import { sqlName, type CheckPoint, type LifecycleWriter, type TableName } from './lifecycle.js';

/** How a column holds an amount: whole cents (an integer), or a price with two decimals. */
export type Unit = 'cents' | 'price';

export interface PriceWriterOptions {
  url: string;
  label: string;
  table: TableName;
  /** The column this app version writes, and how it holds the amount. */
  column: string;
  unit: Unit;
  /** Where this writer's amounts are after contract (default: `column`, `unit`). */
  after?: { column: string; unit: Unit };
  /** Existing rows (keys 1..rows) this writer may update, disjoint from the other writer's. */
  ownsKey: (id: number) => boolean;
  rows: number;
}

/**
 * One app version of a migration that changes how an amount is stored (cents in an integer, or a
 * numeric price): it writes only its own column, INSERTs and UPDATEs one at a time, and remembers
 * the last amount per row in cents, so that every write can be checked in either representation.
 */
export class PriceWriter extends WriterLoop<number> implements LifecycleWriter {
  constructor(private readonly o: PriceWriterOptions) {
    super(o.label, o.url, 1);
  }

  /** Rows whose amount is not the last one written: in `column` until contract, in `after` from then on. */
  async check(db: TestDatabase, when: CheckPoint): Promise<unknown[]> {
    expect(this.expected.size, `${this.o.label} app wrote nothing`).toBeGreaterThan(0);
    const { column, unit } = when === 'contracted' ? (this.o.after ?? this.o) : this.o;
    const cents = unit === 'cents' ? ident(column) : `${ident(column)} * 100`;
    const rows = await db.query<{ id: string; cents: string | null }>(
      `SELECT id::text AS id, (${cents})::text AS cents FROM ${sqlName(this.o.table)} WHERE id = ANY($1::bigint[])`,
      [[...this.expected.keys()]],
    );
    const actual = new Map(rows.map((r) => [Number(r.id), r.cents === null ? null : Number(r.cents)]));
    return [...this.expected]
      .filter(([id, v]) => actual.get(id) !== v)
      .map(([id, v]) => ({ id, expected: v, actual: actual.get(id) ?? null }));
  }

  protected async writeOnce(): Promise<void> {
    const t = sqlName(this.o.table);
    const cents = 100 + ((++this.seq * 7919) % 100_000);
    // A price goes as text with two decimals, as an app would send it: no float on the way.
    const value = this.o.unit === 'cents' ? cents : (cents / 100).toFixed(2);
    if (this.seq % 3 === 0 || this.own.length === 0) {
      const { rows } = await this.client.query<{ id: string }>(
        `INSERT INTO ${t} (${ident(this.o.column)}) VALUES ($1) RETURNING id::text AS id`,
        [value],
      );
      this.inserted(Number(rows[0]!.id), cents);
      return;
    }
    const id = this.pickRow(this.o.rows, this.o.ownsKey);
    if (id < 0) return;
    const result = await this.client.query(`UPDATE ${t} SET ${ident(this.o.column)} = $1 WHERE id = $2`, [value, id]);
    if (result.rowCount === 1) this.updated(id, cents);
  }
}
