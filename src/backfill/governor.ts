import type { BackfillSettings, TunableSetting } from '../../phases/context.js';
import { TUNABLE_SETTINGS } from '../../phases/context.js';
import type { TableRef } from '../catalog/introspect.js';
import type { Queryable } from '../db/queryable.js';
import { readControl, type BackfillControl } from '../ledger/ledger.js';
import type { Logger } from '../logger.js';
import { HealthSignals } from './signals.js';

export function sleepUnlessAborted(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Sleep after a batch: the larger of what the rate cap needs (the cap is shared evenly among
 * workers) and the pause ratio's, plus the fixed delay.
 */
export function throttleSleepMs(
  s: Pick<BackfillSettings, 'maxRate' | 'pauseRatio' | 'delayMs'>,
  rows: number,
  batchMs: number,
  workers: number,
): number {
  const forRate = s.maxRate ? (rows / (s.maxRate / workers)) * 1000 - batchMs : 0;
  return Math.round(Math.max(0, forRate, s.pauseRatio * batchMs) + s.delayMs);
}

/**
 * What every worker asks before each batch: the effective settings (the run's, overridden by
 * `pgshift tune`), and whether to hold (paused, or a health signal over its threshold).
 */
export class Governor {
  private control: BackfillControl | null = null;
  private effective: BackfillSettings;
  /** The last batch's duration plus its pause: how far ahead lag growth is projected. */
  private cycleMs = 0;
  private readonly signals: HealthSignals;

  constructor(
    private readonly db: Queryable,
    private readonly migrationId: string,
    private readonly base: BackfillSettings,
    tables: readonly TableRef[],
    private readonly log: Logger,
  ) {
    this.effective = { ...base };
    this.signals = new HealthSignals(db, tables);
  }

  get settings(): BackfillSettings {
    return this.effective;
  }

  /** Reads the live control row; applies and logs what changed. */
  async refresh(): Promise<BackfillControl> {
    const control = await readControl(this.db, this.migrationId);
    if (control.version !== this.control?.version) {
      const next: BackfillSettings = { ...this.base };
      for (const key of TUNABLE_SETTINGS) {
        if (key in control.settings) (next as unknown as Record<TunableSetting, unknown>)[key] = control.settings[key];
      }
      const changed = TUNABLE_SETTINGS.filter((k) => next[k] !== this.effective[k]).map(
        (k) => `${k}: ${String(this.effective[k])} → ${String(next[k])}`,
      );
      if (this.control && changed.length)
        this.log.info({ changes: changed, by: control.updatedBy }, `backfill settings changed live: ${changed.join(', ')}`);
      if (this.control && control.paused !== this.control.paused)
        this.log.info({ by: control.updatedBy }, control.paused ? 'backfill paused' : 'backfill resumed');
      this.effective = next;
      this.control = control;
    }
    return control;
  }

  /** The reason to hold right now, or null to go on. */
  async holdReason(): Promise<string | null> {
    // The control row and the health signals are read at once; when the control row changed the
    // settings, the signals are read again under the new ones.
    const before = this.effective;
    const [control, signal] = await Promise.all([this.refresh(), this.signals.check(before, this.cycleMs)]);
    if (control.paused) return `paused by \`pgshift pause\`${control.pausedBy ? ` (${control.pausedBy})` : ''}`;
    // Fresh before every batch: a cached reading would let lag run past --max-lag by the cache's age.
    return this.effective === before ? signal : this.signals.check(this.effective, this.cycleMs);
  }

  /** Backends whose VACUUM of the table is the backfill's own: the vacuum hold ignores them. */
  get ownVacuumPids(): Set<number> {
    return this.signals.ownVacuumPids;
  }

  sleepAfter(rows: number, batchMs: number, workers: number): number {
    const sleep = throttleSleepMs(this.effective, rows, batchMs, workers);
    this.cycleMs = batchMs + sleep;
    return sleep;
  }

  async close(): Promise<void> {
    await this.signals.close();
  }
}
