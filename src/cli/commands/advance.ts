import { Option, type Command } from 'commander';
import { InvalidArgumentError, PHASES, VACUUM_HOLDS, type Phase, type VacuumHold } from '../../index.js';
import type { Wire } from '../command.js';
import { formatAdvance } from '../format.js';
import {
  bytesOr,
  collect,
  growth,
  intOr,
  nonNegativeInt,
  nonNegativeNumber,
  orNull,
  percentOr,
  phaseArg,
  positiveInt,
  type Maybe,
} from '../options.js';
import { waitLogger } from '../wait-log.js';

interface AdvanceFlags {
  to?: Phase;
  dryRun?: boolean;
  verify: boolean;
  batchSize?: number;
  targetMs?: number;
  minBatch?: number;
  maxBatch?: number;
  maxRate?: Maybe;
  pauseRatio?: number;
  batchDelay?: number;
  maxLag?: Maybe;
  maxLagBytes?: Maybe;
  maxAppWait?: Maybe;
  replicaUrl?: string;
  requireStandby?: string[];
  minStandbys?: number;
  holdOnVacuum?: VacuumHold;
  vacuumEvery?: Maybe;
  reindexAfter?: number;
  workers?: number;
  batchTimeout?: number;
  maxAttempts?: number;
  expect?: string[];
  wait?: boolean;
  timeout?: number;
}

/** `pgshift advance [migration]`: the next phase (or up to --to) of each unfinished migration. */
export function registerAdvance(program: Command, wire: Wire): void {
  program
    .command('advance')
    .description('run the next phase of each unfinished migration (one phase per call), or up to --to')
    .argument('[migration]', 'only this migration')
    .option('--to <phase>', `run every phase up to and including this one (${PHASES.join(', ')})`, phaseArg)
    .option('--dry-run', 'check everything and show the SQL that would run; change nothing')
    .option('--no-verify', 'before contract, rely on the recorded verification instead of running a fresh one')
    .option('--batch-size <rows>', 'fixed rows per backfill batch (default: adaptive toward --target-ms)', positiveInt('--batch-size'))
    .option('--target-ms <ms>', 'target time of one batch for the adaptive size (default 200)', positiveInt('--target-ms'))
    .option('--min-batch <rows>', 'smallest adaptive batch (default 100)', positiveInt('--min-batch'))
    .option('--max-batch <rows>', 'largest adaptive batch (default 200000)', positiveInt('--max-batch'))
    .option('--max-rate <rows/s|off>', 'cap on rows per second over all workers (default off)', intOr('off', '--max-rate'))
    .option('--pause-ratio <ratio>', 'after each batch, sleep ratio × its duration (default 0)', nonNegativeNumber('--pause-ratio'))
    .option('--batch-delay <ms>', 'fixed pause after each batch (default 0)', nonNegativeInt('--batch-delay'))
    .option('--max-lag <ms|off>', 'hold while replica replay lag exceeds this (default 10000)', intOr('off', '--max-lag'))
    .option(
      '--max-lag-bytes <size|off>',
      'hold while a standby is more than this much WAL behind the primary, e.g. 64MB (default 64MB)',
      bytesOr('off', '--max-lag-bytes'),
    )
    .option('--replica-url <url>', 'measure replica lag on this standby instead of on the primary; holds while it is not streaming')
    .option(
      '--require-standby <name>',
      'on the primary: hold while no standby with this application_name is attached (repeatable)',
      collect,
    )
    .option(
      '--min-standbys <n>',
      'on the primary: hold while fewer standbys are attached (default: as many as at the start of the backfill)',
      nonNegativeInt('--min-standbys'),
    )
    .option(
      '--max-app-wait <ms|off>',
      'shrink batches when an app session waits on a batch longer than this (default 50)',
      intOr('off', '--max-app-wait'),
    )
    .addOption(
      new Option(
        '--hold-on-vacuum <which>',
        'vacuums of the table that hold the backfill: anti-wraparound and manual (wraparound, default), every one (all), none (off)',
      ).choices(VACUUM_HOLDS),
    )
    .option(
      '--vacuum-every <percent|off>',
      "VACUUM the table each time this share of its rows has been backfilled, so later batches reuse the dead rows' space (default 20%)",
      percentOr('off', '--vacuum-every'),
    )
    .addOption(
      new Option(
        '--reindex-after [growth]',
        'after the backfill, REINDEX INDEX CONCURRENTLY each index of the table grown to at least this many times its size before (default 1.5 when given; off unless given)',
      )
        .preset('1.5')
        .argParser(growth('--reindex-after')),
    )
    .option('--workers <n>', 'backfill workers over disjoint key ranges (default 1)', positiveInt('--workers'))
    .option('--batch-timeout <ms>', 'statement_timeout of one batch (default 10000)', positiveInt('--batch-timeout'))
    .option(
      '--max-attempts <n>',
      'attempts at a batch that times out, each smaller, before failing (default 5)',
      positiveInt('--max-attempts'),
    )
    .option(
      '--expect <migration@state>',
      'refuse (exit 3, nothing changed) unless the migration is in this state before this advance: pending or its last completed phase; repeatable',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--wait', 'when another orchestrator holds the lock, wait for it and then proceed (instead of exit 4)')
    .option('--timeout <s>', 'with --wait: give up after this many seconds (exit 1)', nonNegativeNumber('--timeout'))
    .action(
      wire('advance', async (run, migration: string | undefined, opts: AdvanceFlags) => {
        if (opts.timeout !== undefined && !opts.wait) throw new InvalidArgumentError('--timeout needs --wait');
        const backfill = {
          batchSize: opts.batchSize,
          targetMs: opts.targetMs,
          minBatchSize: opts.minBatch,
          maxBatchSize: opts.maxBatch,
          maxRate: orNull(opts.maxRate),
          pauseRatio: opts.pauseRatio,
          delayMs: opts.batchDelay,
          maxLagMs: orNull(opts.maxLag),
          maxLagBytes: orNull(opts.maxLagBytes),
          maxAppWaitMs: orNull(opts.maxAppWait),
          replicaUrl: opts.replicaUrl,
          requireStandbys: opts.requireStandby,
          minStandbys: opts.minStandbys,
          holdOnVacuum: opts.holdOnVacuum,
          vacuumEvery: orNull(opts.vacuumEvery),
          reindexAfter: opts.reindexAfter,
          workers: opts.workers,
          batchTimeoutMs: opts.batchTimeout,
          maxAttempts: opts.maxAttempts,
        };
        const result = await run.withPgshift({ progress: true, extra: { backfill } }, (pg) => {
          const wait = opts.wait ? { timeoutSeconds: opts.timeout, onEvent: waitLogger(run.log()) } : undefined;
          return pg.advance({ migration, to: opts.to, dryRun: opts.dryRun, verify: opts.verify, expect: opts.expect, wait });
        });
        return { value: { ok: true, ...result }, human: () => formatAdvance(result) };
      }),
    );
}
