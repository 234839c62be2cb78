import { expect } from 'vitest';
import { checkWrites, type AppWriter } from '../../tools/demo/writers.js';
import type { TestDatabase } from './database.js';

/**
 * Stops `writers` and asserts none of their writes failed or was lost: each one's last value is
 * in `target` (where the writes are now: the new column after a rename), and together they
 * issued more than `atLeast` writes. Returns what checkWrites found.
 */
export async function expectWritesKept(db: TestDatabase, writers: AppWriter[], target: Parameters<typeof checkWrites>[1], atLeast: number) {
  for (const writer of writers) {
    const stats = await writer.stop();
    expect(stats.errors, `${stats.label}: ${stats.lastError ?? ''}`).toBe(0);
  }
  const check = await checkWrites(db.pool, target, writers);
  expect(check.missing).toEqual([]);
  expect(check.issued).toBeGreaterThan(atLeast);
  return check;
}
