import os from 'node:os';
import type { BackfillSettings, TunableSetting } from '../../phases/context.js';
import { InvalidArgumentError, PhaseOrderError } from '../errors.js';
import { ledgerVersion, recordControlRun, writeControl, type BackfillControl } from '../ledger/ledger.js';
import { LEDGER_VERSION } from '../ledger/schema.js';
import { withOrchestratorLock } from './lock.js';
import type { Session } from './session.js';
import { loadTarget, stateOf } from './targets.js';

export type TuneSettings = Partial<Pick<BackfillSettings, TunableSetting>>;

/** What `tune` takes: a setting, or null for none (no rate cap, no lag check, adaptive size). */
export type TuneChange = { [K in keyof TuneSettings]: TuneSettings[K] | null };

/** Settings that null turns off (or, for batchSize, makes adaptive again). */
const NULLABLE: readonly string[] = ['batchSize', 'maxRate', 'maxLagMs', 'maxLagBytes', 'maxAppWaitMs'];

/**
 * The one check of a tuned value, for the API and the CLI's options alike: the problem, named
 * after `label` (the setting, or the CLI's option), or null when the value is fine.
 */
export function tuneSettingProblem(setting: string, value: unknown, label: string = setting): string | null {
  if (setting === 'pauseRatio')
    return typeof value === 'number' && value >= 0 && value <= 1000 ? null : `${label} must be a number from 0 to 1000`;
  if (setting === 'targetMs' || NULLABLE.includes(setting)) {
    if (value === null && setting !== 'targetMs') return null;
    return typeof value === 'number' && Number.isInteger(value) && value > 0 ? null : `${label} must be a positive integer`;
  }
  return `${label} cannot be tuned live`;
}

/** Every problem of a tune at once (InvalidArgumentError, exit 2); undefined means not given. */
export function checkTuneSettings(settings: Record<string, unknown>): void {
  const problems = Object.entries(settings)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => tuneSettingProblem(k, v))
    .filter((p): p is string => p !== null);
  if (!Object.values(settings).some((v) => v !== undefined)) problems.push('nothing to change: give at least one setting');
  if (problems.length) throw new InvalidArgumentError(problems.join('; '));
}

type ControlChange = { settings: Record<string, unknown> } | { paused: boolean };

/**
 * Writes the migration's `backfill_control` row, which a running backfill reads before its next
 * batch. No orchestrator lock (the running backfill holds it), except to create or upgrade the ledger.
 */
async function control(session: Session, migration: string, change: ControlChange): Promise<BackfillControl> {
  const t = await loadTarget(session, migration);
  if (stateOf(t) === 'contract') throw new PhaseOrderError(migration, 'already contracted; there is no backfill to control');
  const db = session.db();
  if ((await ledgerVersion(db)) !== LEDGER_VERSION) {
    // Create or upgrade the ledger; a running orchestrator would already have done so.
    await withOrchestratorLock(session, ({ createLedger }) => createLedger());
  }
  const written = await writeControl(db, migration, change, `${session.identity.application} ${os.hostname()}:${process.pid}`);
  const action = 'paused' in change ? (change.paused ? 'pause' : 'resume') : 'tune';
  await recordControlRun(db, session.identity, { migrationId: migration, action, details: { ...change, version: written.version } });
  session.log.info({ migration, settings: written.settings, paused: written.paused }, 'backfill control updated');
  return written;
}

/** Changes backfill settings of a migration live; a running backfill applies them before its next batch. */
export async function tune(session: Session, migration: string, settings: TuneChange): Promise<BackfillControl> {
  checkTuneSettings(settings);
  return control(session, migration, { settings });
}

/** Holds a running (or the next) backfill of the migration before its next batch, or lets it go on. */
export async function setPaused(session: Session, migration: string, paused: boolean): Promise<BackfillControl> {
  return control(session, migration, { paused });
}
