/** Percentiles and small formatting helpers shared by the benchmark scripts. */

export interface Summary {
  count: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

/** Nearest-rank percentiles of a list of durations (ms). Sorts a copy. */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { count: 0, p50: null, p99: null, max: null, mean: null };
  const sorted = Float64Array.from(values).sort();
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    p50: round(rank(0.5)),
    p99: round(rank(0.99)),
    max: round(sorted[sorted.length - 1] as number),
    mean: round(sum / sorted.length),
  };
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** A number from an unknown JSON value, or null (fields the engine may not report yet). */
export function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || b === 0) return null;
  return a / b;
}

export const fmtInt = (n: number | null | undefined): string =>
  n === null || n === undefined ? 'n/a' : Math.round(n).toLocaleString('en-US');

export function fmtMs(n: number | null | undefined): string {
  if (n === null || n === undefined) return 'n/a';
  if (n >= 100) return String(Math.round(n));
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

export function fmtSeconds(n: number | null | undefined): string {
  if (n === null || n === undefined) return 'n/a';
  return n >= 100 ? `${Math.round(n)} s` : `${n.toFixed(n >= 10 ? 1 : 2)} s`;
}

export function fmtRatio(n: number | null | undefined, digits = 2): string {
  return n === null || n === undefined ? 'n/a' : `${n.toFixed(digits)}×`;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Median (mean of the middle two for an even count) and min–max of the values that are numbers. */
export function spread(values: readonly (number | null | undefined)[]): {
  median: number | null;
  min: number | null;
  max: number | null;
  n: number;
} {
  const xs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (!xs.length) return { median: null, min: null, max: null, n: 0 };
  const mid = Math.floor(xs.length / 2);
  const median = xs.length % 2 ? (xs[mid] as number) : ((xs[mid - 1] as number) + (xs[mid] as number)) / 2;
  return { median: round(median, 4), min: round(xs[0] as number, 4), max: round(xs[xs.length - 1] as number, 4), n: xs.length };
}
