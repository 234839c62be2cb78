import { tableGrowthOf, type TableGrowth } from '../backfill/table-growth.js';
import { orchestratorRunning } from '../db/advisory-lock.js';
import {
  latestVerification,
  ledgerVersion,
  readControl,
  readProgress,
  readRuns,
  type BackfillControl,
  type BackfillProgress,
  type PhaseRun,
  type Verification,
} from '../ledger/ledger.js';
import { LEDGER_VERSION } from '../ledger/schema.js';
import type { MigrationState, Phase } from '../plan/model.js';
import { stampedPhases } from '../stamp.js';
import { nextPhase } from './order.js';
import type { Session } from './session.js';
import { loadTargets, stateOf } from './targets.js';

export interface MigrationStatus {
  id: string;
  description: string | null;
  state: MigrationState;
  next: Phase | null;
  complete: boolean;
  /** Where the plan comes from: a file, or only the ledger (file deleted). */
  source: string;
  /** False when the file changed after phases ran (advance will refuse). */
  checksumMatches: boolean | null;
  backfill: BackfillProgress[];
  /** Backfill progress over all workers, with rate, ETA and the live settings. */
  backfillSummary: BackfillSummary | null;
  verification: Verification | null;
  lastRun: PhaseRun | null;
  /** Phases recorded done by `stamp` (done outside pgshift), not run by it. */
  stamped: Phase[];
  /** Heap and index growth of the table(s) over the last finished backfill run (src/backfill/table-growth.ts). */
  tableGrowth: TableGrowth[];
}

export interface BackfillSummary {
  rowsDone: number;
  rowEstimate: number | null;
  percent: number | null;
  rowsPerSecond: number | null;
  etaSeconds: number | null;
  workers: number;
  finished: boolean;
  batchSize: number | null;
  holdReason: string | null;
  heldSince: Date | null;
  /** Settings the run started with. */
  settings: Record<string, unknown>;
  /** Live overrides from `pgshift tune/pause`. */
  control: BackfillControl;
}

/** Before ledger version 2 there is no control row. */
const noControl = (): BackfillControl => ({ settings: {}, paused: false, version: 0, updatedAt: null, updatedBy: null, pausedBy: null });

/** `active`: a backfill run is in progress now; otherwise rates, ETA and holds are history, not shown. */
export function summarizeBackfill(rows: BackfillProgress[], control: BackfillControl, active: boolean): BackfillSummary | null {
  if (!rows.length) return null;
  const rowsDone = rows.reduce((n, r) => n + r.rowsDone, 0);
  const finished = rows.every((r) => r.finishedAt !== null);
  const running = active ? rows.filter((r) => !r.finishedAt) : [];
  const rate = running.length ? running.reduce((n, r) => n + (r.rowsPerSecond ?? 0), 0) : null;
  const estimate = rows[0]!.rowEstimate;
  const held = running.find((r) => r.holdReason);
  return {
    rowsDone,
    rowEstimate: estimate,
    percent: finished ? 100 : estimate ? Math.min(99, Math.floor((100 * rowsDone) / Math.max(1, estimate))) : null,
    rowsPerSecond: rate === null ? null : Math.round(rate),
    // A held or paused backfill has no ETA: its last rate says nothing about when it goes on.
    etaSeconds: finished
      ? 0
      : held || control.paused
        ? null
        : rate && estimate
          ? Math.max(0, Math.round((estimate - rowsDone) / rate))
          : null,
    workers: rows.length,
    finished,
    batchSize: running.length ? Math.round(running.reduce((n, r) => n + (r.batchSize ?? 0), 0) / running.length) : null,
    holdReason: held?.holdReason ?? null,
    heldSince: held?.heldSince ?? null,
    settings: rows[0]!.settings,
    control,
  };
}

/** The run that ended last: contract's own verification starts after contract does, but ends before it. */
function lastEnded(runs: PhaseRun[]): PhaseRun | null {
  return runs.reduce<PhaseRun | null>(
    (last, r) => (!last || +(r.finishedAt ?? r.startedAt) >= +(last.finishedAt ?? last.startedAt) ? r : last),
    null,
  );
}

/** Where each migration (or the one named) stands. Reads only; no lock. */
export async function status(session: Session, migration?: string): Promise<MigrationStatus[]> {
  const db = session.db();
  const out: MigrationStatus[] = [];
  // A run recorded as running is only live if an orchestrator holds the lock (not after a kill).
  const live = await orchestratorRunning(db);
  for (const t of await loadTargets(session, migration)) {
    const state = stateOf(t);
    const runs = await readRuns(db, t.migration.id);
    const progress = await readProgress(db, t.migration.id);
    const control = (await ledgerVersion(db)) === LEDGER_VERSION ? await readControl(db, t.migration.id) : noControl();
    const backfillRunning = live && runs.some((r) => r.phase === 'backfill' && r.action === 'apply' && r.status === 'running');
    out.push({
      id: t.migration.id,
      description: t.migration.description ?? null,
      state,
      next: nextPhase(state),
      complete: state === 'contract',
      source: t.source,
      checksumMatches: t.record && t.source !== 'ledger' ? t.record.checksum === t.checksum : null,
      backfill: progress,
      backfillSummary: summarizeBackfill(progress, control, backfillRunning),
      verification: await latestVerification(db, t.migration.id),
      lastRun: lastEnded(runs),
      stamped: state === 'pending' ? [] : stampedPhases(runs),
      tableGrowth: tableGrowthOf(runs),
    });
  }
  return out;
}
