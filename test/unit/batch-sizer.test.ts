import { describe, expect, test } from 'vitest';
import { BatchSizer, SIZER_DEFAULTS, type SizerSettings } from '../../src/backfill/sizer.js';
import { throttleSleepMs } from '../../src/backfill/governor.js';
import { DEFAULT_BACKFILL_SETTINGS } from '../../phases/context.js';

const adaptive = { batchSize: null, targetMs: 200, minBatchSize: 100, maxBatchSize: 100_000 };

describe('adaptive batch size', () => {
  test('starts with a 1000-row probe, jumps to its measured size, then grows at most 1.5x per batch', () => {
    const s = new BatchSizer(adaptive);
    expect(s.current).toBe(1000);
    // The probe: 1000 rows in 40 ms, so 200 ms fits 5,000 rows; no growth cap on the probe.
    s.record(1000, 40);
    expect(s.current).toBe(5000);
    // The same cost per row: it stays.
    s.record(5000, 200);
    expect(s.current).toBe(5000);
  });

  test('settles where a batch takes about the target time', () => {
    const s = new BatchSizer(adaptive);
    for (let i = 0; i < 40; i++) s.record(s.current, s.current * 0.01); // 0.01 ms per row
    expect(s.current).toBe(20_000);
  });

  test('shrinks at once when batches get slow, and hard after a timeout', () => {
    const s = new BatchSizer(adaptive);
    for (let i = 0; i < 40; i++) s.record(s.current, s.current * 0.01);
    s.record(20_000, 2000); // 10x slower in one batch
    expect(s.current).toBe(2000);
    expect(s.shrinkAfterTimeout()).toBe(500);
    expect(s.shrinkAfterTimeout()).toBe(125);
    expect(s.shrinkAfterTimeout()).toBe(100); // the floor
  });

  test('respects min and max bounds', () => {
    const s = new BatchSizer({ ...adaptive, maxBatchSize: 3000 });
    for (let i = 0; i < 20; i++) s.record(s.current, 1);
    expect(s.current).toBe(3000);
    s.record(3000, 100_000);
    expect(s.current).toBe(100);
  });

  test('a fixed size is kept; a tuned fixed size applies to the next batch; auto resumes adapting', () => {
    const s = new BatchSizer({ ...adaptive, batchSize: 5000 });
    expect(s.current).toBe(5000);
    s.record(5000, 10_000);
    expect(s.current).toBe(5000);
    s.update({ ...adaptive, batchSize: 777 });
    expect(s.current).toBe(777);
    expect(s.shrinkAfterTimeout()).toBe(194);
    s.record(194, 5);
    expect(s.current).toBe(777);
    s.update(adaptive);
    // The first adaptive batch is the probe (fixed sizes measured nothing): 0.01 ms per row.
    s.record(777, 7.77);
    expect(s.current).toBe(20_000);
  });
});

describe('batch size while app sessions contend', () => {
  const budgeted: SizerSettings = { ...adaptive, maxAppWaitMs: 50 };
  const settled = (settings: SizerSettings) => {
    const s = new BatchSizer(settings);
    for (let i = 0; i < 40; i++) s.record(s.current, s.current * 0.01, 0); // 0.01 ms per row
    return s;
  };

  test('an app session waiting on a batch makes batches aim at the --max-app-wait budget, for appCapHoldMs', () => {
    const s = settled(budgeted);
    expect(s.current).toBe(20_000); // 200 ms
    expect(s.noteAppContention(1000)).toBe(5000); // cut at once to 50 ms worth
    expect(s.appCappedAt(1000)).toBe(true);
    // While contended it settles at the budget, not the target.
    for (let i = 0; i < 20; i++) s.record(s.current, s.current * 0.01, 2000);
    expect(s.current).toBe(5000);
    // Once the hold has passed with no more waits, it grows back toward targetMs.
    const later = 1000 + SIZER_DEFAULTS.appCapHoldMs;
    expect(s.appCappedAt(later)).toBe(false);
    for (let i = 0; i < 20; i++) s.record(s.current, s.current * 0.01, later);
    expect(s.current).toBe(20_000);
  });

  test('no budget (--max-app-wait off) or a fixed batch size: contention changes nothing', () => {
    const off = settled({ ...adaptive, maxAppWaitMs: null });
    expect(off.noteAppContention(0)).toBe(20_000);
    expect(off.appCappedAt(0)).toBe(false);
    const fixed = new BatchSizer({ ...budgeted, batchSize: 7000 });
    expect(fixed.noteAppContention(0)).toBe(7000);
  });

  test('turning the budget off live ends the cap at once', () => {
    const s = settled(budgeted);
    s.noteAppContention(0);
    expect(s.current).toBe(5000);
    s.update({ ...budgeted, maxAppWaitMs: null });
    expect(s.appCappedAt(1)).toBe(false);
    for (let i = 0; i < 20; i++) s.record(s.current, s.current * 0.01, 2);
    expect(s.current).toBe(20_000);
  });
});

describe('throttle sleep after a batch', () => {
  const base = { ...DEFAULT_BACKFILL_SETTINGS };
  test('no throttle: no sleep', () => {
    expect(throttleSleepMs(base, 10_000, 100, 1)).toBe(0);
  });
  test('pause ratio sleeps ratio x batch time', () => {
    expect(throttleSleepMs({ ...base, pauseRatio: 0.5 }, 10_000, 100, 1)).toBe(50);
  });
  test('rate cap: rows at the capped rate take at least rows/rate, shared among workers', () => {
    // 10,000 rows at 20,000 rows/s take 500 ms; the batch took 100 ms: sleep 400.
    expect(throttleSleepMs({ ...base, maxRate: 20_000 }, 10_000, 100, 1)).toBe(400);
    // Two workers share the cap: each gets 10,000 rows/s.
    expect(throttleSleepMs({ ...base, maxRate: 20_000 }, 10_000, 100, 2)).toBe(900);
    expect(throttleSleepMs({ ...base, maxRate: 20_000, pauseRatio: 10 }, 10_000, 100, 1)).toBe(1000);
  });
  test('the fixed delay adds to the rest', () => {
    expect(throttleSleepMs({ ...base, delayMs: 25, pauseRatio: 1 }, 100, 10, 1)).toBe(35);
  });
});
