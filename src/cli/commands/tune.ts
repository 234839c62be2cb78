import type { Command } from 'commander';
import type { Wire } from '../command.js';
import { formatControl } from '../format.js';
import { bytesOr, numberOr, orNull, tuned, type Maybe } from '../options.js';

interface TuneFlags {
  batchSize?: Maybe;
  /** No word for none: a number. */
  targetMs?: number;
  maxRate?: Maybe;
  pauseRatio?: number;
  maxLag?: Maybe;
  maxLagBytes?: Maybe;
  maxAppWait?: Maybe;
}

/** `pgshift tune <migration>`: backfill settings changed live; the values are checked by the library's check. */
export function registerTune(program: Command, wire: Wire): void {
  program
    .command('tune')
    .description('change backfill settings live: a running backfill applies them before its next batch')
    .argument('<migration>')
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
    )
    .action(
      wire('tune', async (run, migration: string, opts: TuneFlags) => {
        const control = await run.withPgshift({}, (pg) =>
          pg.tune(migration, {
            batchSize: orNull(opts.batchSize),
            targetMs: opts.targetMs,
            maxRate: orNull(opts.maxRate),
            pauseRatio: opts.pauseRatio,
            maxLagMs: orNull(opts.maxLag),
            maxLagBytes: orNull(opts.maxLagBytes),
            maxAppWaitMs: orNull(opts.maxAppWait),
          }),
        );
        return { value: { ok: true, migration, ...control }, human: () => formatControl(migration, control) };
      }),
    );
}
