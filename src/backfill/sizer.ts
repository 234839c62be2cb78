/**
 * Chooses the next batch size so that a batch takes about `targetMs`.
 *
 * The first batch is a probe of `initialBatchSize` rows: its measured cost per row sets the next
 * size directly (fixed per-batch costs make a small probe look dearer per row, so this errs small),
 * instead of growing there from 1,000 by `maxGrowth` steps (~0.6 s at 1M rows in issue 13).
 * After that it keeps an exponentially smoothed cost per row (so one slow batch does not whipsaw the size),
 * grows at most `maxGrowth`× per step (a sudden cheap batch must not let the next one overshoot by
 * an order of magnitude), shrinks as far as needed at once (trouble is acted on immediately), and
 * shrinks hard after a timeout. With a fixed size set, it only obeys timeouts until the next batch.
 */
export interface SizerSettings {
  /** Fixed batch size; null = adaptive toward targetMs. */
  batchSize: number | null;
  targetMs: number;
  minBatchSize: number;
  maxBatchSize: number;
  /** The app-wait budget (--max-app-wait), aimed at while app sessions contend; null/absent = off. */
  maxAppWaitMs?: number | null;
}

export const SIZER_DEFAULTS = {
  initialBatchSize: 1000,
  /** How long after an app session was last seen waiting on a batch the batches keep aiming at the app-wait budget (ms). */
  appCapHoldMs: 30_000,
  maxGrowth: 1.5,
  smoothing: 0.3,
  timeoutShrink: 4,
} as const;

export class BatchSizer {
  private size: number;
  private msPerRow: number | null = null;
  /** Until when app sessions count as contending with the batches (performance.now() ms). */
  private contendedUntil = 0;

  constructor(private settings: SizerSettings) {
    this.size = this.clamp(settings.batchSize ?? SIZER_DEFAULTS.initialBatchSize);
  }

  get current(): number {
    return this.size;
  }

  /** New settings from `pgshift tune`; a new fixed size applies to the very next batch. */
  update(settings: SizerSettings): void {
    const fixedChanged = settings.batchSize !== null && settings.batchSize !== this.settings.batchSize;
    this.settings = settings;
    if (fixedChanged) this.size = this.clamp(settings.batchSize!);
    else this.size = this.clamp(this.size);
  }

  /** A batch of `rows` rows (the range it covered) took `ms`. */
  record(rows: number, ms: number, now = performance.now()): void {
    const s = this.settings;
    if (s.batchSize !== null) {
      this.size = this.clamp(s.batchSize);
      return;
    }
    if (rows <= 0) return;
    const sample = Math.max(ms, 0.01) / rows;
    const probe = this.msPerRow === null;
    this.msPerRow = this.msPerRow === null ? sample : SIZER_DEFAULTS.smoothing * sample + (1 - SIZER_DEFAULTS.smoothing) * this.msPerRow;
    // The smoothed cost lags a sudden slowdown; never size above what the last batch alone allows.
    const ideal = this.targetMs(now) / Math.max(this.msPerRow, sample);
    this.size = this.clamp(probe ? ideal : Math.min(ideal, this.size * SIZER_DEFAULTS.maxGrowth));
  }

  /** The batch time aimed at now: targetMs, or the app-wait budget while app sessions contend. */
  targetMs(now = performance.now()): number {
    const budget = this.settings.maxAppWaitMs ?? null;
    return budget !== null && now < this.contendedUntil ? Math.min(this.settings.targetMs, budget) : this.settings.targetMs;
  }

  /** True while batches aim at the app-wait budget. */
  appCappedAt(now = performance.now()): boolean {
    return this.targetMs(now) < this.settings.targetMs;
  }

  /**
   * An app session waited on a batch: a blocked write waits up to the rest of the batch, so for
   * `appCapHoldMs` from now batches aim to take no longer than the app-wait budget, and the
   * current size is cut to that at once. Returns the new size.
   */
  noteAppContention(now = performance.now()): number {
    if (this.settings.batchSize !== null || (this.settings.maxAppWaitMs ?? null) === null) return this.size;
    this.contendedUntil = now + SIZER_DEFAULTS.appCapHoldMs;
    if (this.msPerRow !== null) this.size = this.clamp(Math.min(this.size, this.targetMs(now) / this.msPerRow));
    return this.size;
  }

  /**
   * The batch kept app sessions waiting too long: scale the size by `factor` (< 1) and treat rows
   * as that much dearer, so growth resumes from the smaller size gradually.
   */
  shrinkForApp(factor: number): number {
    if (factor >= 1 || this.settings.batchSize !== null) return this.size;
    this.size = this.clamp(this.size * factor);
    if (this.msPerRow !== null) this.msPerRow /= factor;
    return this.size;
  }

  /** The batch hit statement_timeout or lock_timeout: retry it much smaller. */
  shrinkAfterTimeout(): number {
    this.size = this.clamp(Math.floor(this.size / SIZER_DEFAULTS.timeoutShrink));
    if (this.msPerRow !== null) this.msPerRow *= SIZER_DEFAULTS.timeoutShrink;
    return this.size;
  }

  private clamp(n: number): number {
    const { minBatchSize, maxBatchSize } = this.settings;
    return Math.max(minBatchSize, Math.min(maxBatchSize, Math.round(n)));
  }
}
