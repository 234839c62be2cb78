import { Option, type Command } from 'commander';
import { DEFAULT_BACKFILL_SETTINGS, VACUUM_HOLDS, type BackfillSettings, type TuneChange, type VacuumHold } from '../index.js';
import {
  bytesOr,
  collect,
  growth,
  intOr,
  nonNegativeInt,
  nonNegativeNumber,
  numberOr,
  orNull,
  percentOr,
  positiveInt,
  tuned,
  type Maybe,
} from './options.js';

/**
 * The backfill options, defined once for `advance` and `fleet advance` (and the live ones once for
 * `tune` and `fleet tune`), so the two cannot drift apart. The defaults the help states are read
 * from the engine's DEFAULT_BACKFILL_SETTINGS, which is what applies when an option is not given.
 */

const D = DEFAULT_BACKFILL_SETTINGS;

/** What `--reindex-after` means when given without a value; the engine's own default is off. */
const REINDEX_AFTER_PRESET = '1.5';

const offOr = (value: number | null): string => (value === null ? 'off' : String(value));

function size(bytes: number | null): string {
  if (bytes === null) return 'off';
  for (const [unit, n] of [
    ['GB', 1024 ** 3],
    ['MB', 1024 ** 2],
    ['kB', 1024],
  ] as const)
    if (bytes % n === 0) return `${bytes / n}${unit}`;
  return String(bytes);
}

const VACUUM_HOLD_HELP: Record<VacuumHold, string> = { wraparound: 'anti-wraparound and manual', all: 'every one', off: 'none' };

/** The backfill options as commander hands them over (camelCase of the flags). */
export interface BackfillFlags {
  batchSize?: number;
  targetMs?: number;
  minBatch?: number;
  maxBatch?: number;
  maxRate?: Maybe;
  pauseRatio?: number;
  batchDelay?: number;
  maxLag?: Maybe;
  maxLagBytes?: Maybe;
  replicaUrl?: string;
  requireStandby?: string[];
  minStandbys?: number;
  maxAppWait?: Maybe;
  holdOnVacuum?: VacuumHold;
  vacuumEvery?: Maybe;
  reindexAfter?: number;
  workers?: number;
  batchTimeout?: number;
  maxAttempts?: number;
}

/**
 * Adds the backfill options to `cmd`. `replicaUrl: false` leaves out `--replica-url`, which names
 * one database's standby: a fleet gives it per target (`replicaUrl` in the targets file).
 */
export function addBackfillOptions(cmd: Command, scope: { replicaUrl: boolean }): Command {
  cmd
    .option('--batch-size <rows>', 'fixed rows per backfill batch (default: adaptive toward --target-ms)', positiveInt('--batch-size'))
    .option('--target-ms <ms>', `target time of one batch for the adaptive size (default ${D.targetMs})`, positiveInt('--target-ms'))
    .option('--min-batch <rows>', `smallest adaptive batch (default ${D.minBatchSize})`, positiveInt('--min-batch'))
    .option('--max-batch <rows>', `largest adaptive batch (default ${D.maxBatchSize})`, positiveInt('--max-batch'))
    .option('--max-rate <rows/s|off>', `cap on rows per second over all workers (default ${offOr(D.maxRate)})`, intOr('off', '--max-rate'))
    .option(
      '--pause-ratio <ratio>',
      `after each batch, sleep ratio × its duration (default ${D.pauseRatio})`,
      nonNegativeNumber('--pause-ratio'),
    )
    .option('--batch-delay <ms>', `fixed pause after each batch (default ${D.delayMs})`, nonNegativeInt('--batch-delay'))
    .option('--max-lag <ms|off>', `hold while replica replay lag exceeds this (default ${offOr(D.maxLagMs)})`, intOr('off', '--max-lag'))
    .option(
      '--max-lag-bytes <size|off>',
      `hold while a standby is more than this much WAL behind the primary, e.g. 64MB (default ${size(D.maxLagBytes)})`,
      bytesOr('off', '--max-lag-bytes'),
    );
  if (scope.replicaUrl)
    cmd.option('--replica-url <url>', 'measure replica lag on this standby instead of on the primary; holds while it is not streaming');
  return cmd
    .option(
      '--require-standby <name>',
      'on the primary: hold while no standby with this application_name is attached (repeatable)',
      collect,
    )
    .option(
      '--min-standbys <n>',
      `on the primary: hold while fewer standbys are attached (default: ${D.minStandbys ?? 'as many as at the start of the backfill'})`,
      nonNegativeInt('--min-standbys'),
    )
    .option(
      '--max-app-wait <ms|off>',
      `shrink batches when an app session waits on a batch longer than this (default ${offOr(D.maxAppWaitMs)})`,
      intOr('off', '--max-app-wait'),
    )
    .addOption(
      new Option(
        '--hold-on-vacuum <which>',
        `vacuums of the table that hold the backfill: ${VACUUM_HOLDS.map((h) => `${VACUUM_HOLD_HELP[h]} (${h}${h === D.holdOnVacuum ? ', default' : ''})`).join(', ')}`,
      ).choices(VACUUM_HOLDS),
    )
    .option(
      '--vacuum-every <percent|off>',
      `VACUUM the table each time this share of its rows has been backfilled, so later batches reuse the dead rows' space (default ${D.vacuumEvery === null ? 'off' : `${D.vacuumEvery}%`})`,
      percentOr('off', '--vacuum-every'),
    )
    .addOption(
      new Option(
        '--reindex-after [growth]',
        `after the backfill, REINDEX INDEX CONCURRENTLY each index of the table grown to at least this many times its size before (default ${REINDEX_AFTER_PRESET} when given; ${D.reindexAfter === null ? 'off' : D.reindexAfter} unless given)`,
      )
        .preset(REINDEX_AFTER_PRESET)
        .argParser(growth('--reindex-after')),
    )
    .option('--workers <n>', `backfill workers over disjoint key ranges (default ${D.workers})`, positiveInt('--workers'))
    .option('--batch-timeout <ms>', `statement_timeout of one batch (default ${D.batchTimeoutMs})`, positiveInt('--batch-timeout'))
    .option(
      '--max-attempts <n>',
      `attempts at a batch that times out, each smaller, before failing (default ${D.maxAttempts})`,
      positiveInt('--max-attempts'),
    );
}

/** The engine's backfill settings from the options: a setting not given stays undefined (the engine's default applies). */
export function backfillSettings(flags: BackfillFlags): Partial<BackfillSettings> {
  return {
    batchSize: flags.batchSize,
    targetMs: flags.targetMs,
    minBatchSize: flags.minBatch,
    maxBatchSize: flags.maxBatch,
    maxRate: orNull(flags.maxRate),
    pauseRatio: flags.pauseRatio,
    delayMs: flags.batchDelay,
    maxLagMs: orNull(flags.maxLag),
    maxLagBytes: orNull(flags.maxLagBytes),
    maxAppWaitMs: orNull(flags.maxAppWait),
    replicaUrl: flags.replicaUrl,
    requireStandbys: flags.requireStandby,
    minStandbys: flags.minStandbys,
    holdOnVacuum: flags.holdOnVacuum,
    vacuumEvery: orNull(flags.vacuumEvery),
    reindexAfter: flags.reindexAfter,
    workers: flags.workers,
    batchTimeoutMs: flags.batchTimeout,
    maxAttempts: flags.maxAttempts,
  };
}

/** The settings `tune` changes live, as commander hands them over. */
export interface TuneFlags {
  batchSize?: Maybe;
  /** No word for none: a number. */
  targetMs?: number;
  maxRate?: Maybe;
  pauseRatio?: number;
  maxLag?: Maybe;
  maxLagBytes?: Maybe;
  maxAppWait?: Maybe;
}

/** Adds the live settings of `tune` and `fleet tune`; each value is checked by the library's own check (`tuned`). */
export function addTuneOptions(cmd: Command): Command {
  return cmd
    .option('--batch-size <rows|auto>', 'fixed rows per batch, or auto (adaptive)', tuned('batchSize', '--batch-size', numberOr('auto')))
    .option('--target-ms <ms>', 'target time of one batch for the adaptive size', tuned('targetMs', '--target-ms'))
    .option('--max-rate <rows/s|off>', 'cap on rows per second over all workers', tuned('maxRate', '--max-rate', numberOr('off')))
    .option('--pause-ratio <ratio>', 'after each batch, sleep ratio × its duration', tuned('pauseRatio', '--pause-ratio'))
    .option('--max-lag <ms|off>', 'hold while replica replay lag exceeds this', tuned('maxLagMs', '--max-lag', numberOr('off')))
    .option(
      '--max-lag-bytes <size|off>',
      'hold while a standby is more than this much WAL behind, e.g. 64MB',
      tuned('maxLagBytes', '--max-lag-bytes', bytesOr('off', '--max-lag-bytes')),
    )
    .option(
      '--max-app-wait <ms|off>',
      'shrink batches when an app session waits on a batch longer than this',
      tuned('maxAppWaitMs', '--max-app-wait', numberOr('off')),
    );
}

/** The change `tune` writes: auto and off become null; a setting not given stays undefined. */
export function tuneChange(flags: TuneFlags): TuneChange {
  return {
    batchSize: orNull(flags.batchSize),
    targetMs: flags.targetMs,
    maxRate: orNull(flags.maxRate),
    pauseRatio: flags.pauseRatio,
    maxLagMs: orNull(flags.maxLag),
    maxLagBytes: orNull(flags.maxLagBytes),
    maxAppWaitMs: orNull(flags.maxAppWait),
  };
}
