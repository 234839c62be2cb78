import type { Command } from 'commander';
import { InvalidArgumentError, PHASES, type Phase } from '../../index.js';
import { addBackfillOptions, backfillSettings, type BackfillFlags } from '../backfill-options.js';
import type { Wire } from '../command.js';
import { formatAdvance } from '../format.js';
import { nonNegativeNumber, phaseArg } from '../options.js';
import { waitLogger } from '../wait-log.js';

interface AdvanceFlags extends BackfillFlags {
  to?: Phase;
  dryRun?: boolean;
  verify: boolean;
  expect?: string[];
  wait?: boolean;
  timeout?: number;
}

/** `pgshift advance [migration]`: the next phase (or up to --to) of each unfinished migration. */
export function registerAdvance(program: Command, wire: Wire): void {
  const command = program
    .command('advance')
    .description('run the next phase of each unfinished migration (one phase per call), or up to --to')
    .argument('[migration]', 'only this migration')
    .option('--to <phase>', `run every phase up to and including this one (${PHASES.join(', ')})`, phaseArg)
    .option('--dry-run', 'check everything and show the SQL that would run; change nothing')
    .option('--no-verify', 'before contract, rely on the recorded verification instead of running a fresh one');
  addBackfillOptions(command, { replicaUrl: true })
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
        const backfill = backfillSettings(opts);
        const result = await run.withPgshift({ progress: true, extra: { backfill } }, (pg) => {
          const wait = opts.wait ? { timeoutSeconds: opts.timeout, onEvent: waitLogger(run.log()) } : undefined;
          return pg.advance({ migration, to: opts.to, dryRun: opts.dryRun, verify: opts.verify, expect: opts.expect, wait });
        });
        return { value: { ok: true, ...result }, human: () => formatAdvance(result) };
      }),
    );
}
