import type pg from 'pg';
import QueryStream from 'pg-query-stream';
import type { KeysetQuery } from '../sql/keyset.js';
import { renderKeySample } from '../sql/keyset.js';

export interface KeyRange {
  /** Exclusive lower bound; null = from the start. */
  start: string[] | null;
  /** Inclusive upper bound; null = to the end. */
  end: string[] | null;
}

/** Sampling keeps the split cheap on huge tables: about this many keys are read, whatever the size. */
const SAMPLE_KEYS = 50_000;

/**
 * Splits the key space into `parts` disjoint ranges of about equal row counts, from a sorted
 * sample of keys streamed from the server (memory stays flat: only the chosen boundaries are kept).
 * Boundaries are keys, so ranges stay correct whatever the sample; only the balance is approximate.
 */
export async function splitRanges(pool: pg.Pool, q: KeysetQuery, parts: number, rowEstimate: number | null): Promise<KeyRange[]> {
  if (parts <= 1) return [{ start: null, end: null }];
  // A stream needs a client of its own for as long as it runs.
  const client = await pool.connect();
  try {
    return await streamBoundaries(client, q, parts, rowEstimate);
  } finally {
    client.release();
  }
}

async function streamBoundaries(client: pg.ClientBase, q: KeysetQuery, parts: number, rowEstimate: number | null): Promise<KeyRange[]> {
  const percent = rowEstimate && rowEstimate > SAMPLE_KEYS ? Math.max(0.0001, (100 * SAMPLE_KEYS) / rowEstimate) : 100;
  const sampled = percent < 100;
  const width = q.key.length;
  const boundaries: string[][] = [];
  let picks: Set<number> | null = null;
  let i = 0;
  const stream = client.query(new QueryStream(renderKeySample(q, sampled), sampled ? [percent] : [], { batchSize: 5000 }));
  for await (const row of stream as AsyncIterable<Record<string, string>>) {
    if (!picks) {
      const total = Number(row.total);
      if (total < parts) break;
      picks = new Set(Array.from({ length: parts - 1 }, (_, p) => Math.floor(((p + 1) * total) / parts) - 1));
    }
    if (picks.has(i)) boundaries.push(Array.from({ length: width }, (_, k) => row[`k${k}`] as string));
    i++;
  }
  const ranges: KeyRange[] = [];
  let start: string[] | null = null;
  for (const b of boundaries) {
    ranges.push({ start, end: b });
    start = b;
  }
  ranges.push({ start, end: null });
  return ranges;
}
