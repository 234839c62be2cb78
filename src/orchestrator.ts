import { advance, type AdvanceOptions, type AdvanceResult } from './app/advance.js';
import { setPaused, tune, type TuneChange } from './app/control.js';
import { history } from './app/history.js';
import { plan, type PlanPhase, type PlanResult } from './app/plan.js';
import { rollback, type RollbackResult } from './app/rollback.js';
import { openSession, type PgshiftOptions, type Session } from './app/session.js';
import { stamp } from './app/stamp.js';
import { status, type MigrationStatus } from './app/status.js';
import { verify } from './app/verify.js';
import { waitFor, type WaitResult } from './app/wait.js';
import type { BackfillControl, PhaseRun, Verification } from './ledger/ledger.js';
import type { StampOptions, StampResult } from './stamp.js';
import type { WaitOptions, WaitTarget } from './wait.js';

export { nextPhase } from './app/order.js';
export type { AdvanceEntry, AdvanceOptions, AdvanceResult, PhaseOutcome } from './app/advance.js';
export type { TuneSettings } from './app/control.js';
export type { RollbackResult } from './app/rollback.js';
export type { PgshiftOptions } from './app/session.js';
export type { BackfillSummary, MigrationStatus } from './app/status.js';
export type { MigrationState } from './plan/model.js';

/**
 * The programmatic API: one object per database and plan directory, each method one use case of
 * src/app/. It holds the connection pool of its phases until `close()`.
 */
export class Pgshift {
  private readonly session: Session;

  constructor(options: PgshiftOptions) {
    this.session = openSession(options);
  }

  async close(): Promise<void> {
    await this.session.close();
  }

  /**
   * Runs the next phase of each unfinished migration (or of one), or every phase up to `to`.
   * Everything is checked (plan, checksum, catalog, drift) before anything changes.
   */
  advance(options: AdvanceOptions = {}): Promise<AdvanceResult> {
    return advance(this.session, options);
  }

  /**
   * Waits until `migration` reaches `target` (a phase, or `verified`), polling the ledger without
   * the lock: what `pgshift wait` runs. Throws WaitRunFailedError or WaitTimeoutError (exit 1),
   * WaitUnreachableError (exit 3).
   */
  waitFor(migration: string, target: WaitTarget, options: WaitOptions = {}): Promise<WaitResult> {
    return waitFor(this.session, migration, target, options);
  }

  /** Verifies migrations whose backfill has finished (or the one named) and records the evidence. */
  verify(migration?: string): Promise<Verification[]> {
    return verify(this.session, migration);
  }

  /** Undoes every phase of a migration that has not contracted; the table is as before expand. */
  rollback(migration: string): Promise<RollbackResult> {
    return rollback(this.session, migration);
  }

  status(migration?: string): Promise<MigrationStatus[]> {
    return status(this.session, migration);
  }

  /**
   * Changes backfill settings of a migration live: a running backfill applies them before its
   * next batch. No orchestrator lock (that one is held by the running backfill); only the
   * migration's control row is written. null means none: no rate cap, no lag check, adaptive size.
   */
  tune(migration: string, settings: TuneChange): Promise<BackfillControl> {
    return tune(this.session, migration, settings);
  }

  /** Holds a running (or the next) backfill of the migration before its next batch. */
  pause(migration: string): Promise<BackfillControl> {
    return setPaused(this.session, migration, true);
  }

  resume(migration: string): Promise<BackfillControl> {
    return setPaused(this.session, migration, false);
  }

  /**
   * Records phases done outside pgshift (adopting a database changed by hand) as done without
   * running them, in order, after checking the database shows what they leave (src/stamp.ts).
   */
  stamp(migration: string, options: StampOptions): Promise<StampResult> {
    return stamp(this.session, migration, options);
  }

  history(migration?: string): Promise<PhaseRun[]> {
    return history(this.session, migration);
  }

  /** The exact SQL of each phase (and of rollback), with lock levels. Reads the catalog; writes nothing. */
  plan(migration: string, phase?: PlanPhase): Promise<PlanResult> {
    return plan(this.session, migration, phase);
  }
}
