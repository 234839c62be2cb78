import { Option, type Command } from 'commander';
import { WAIT_TARGETS, type WaitTarget } from '../../index.js';
import type { Wire } from '../command.js';
import { nonNegativeNumber, positiveInt } from '../options.js';
import { waitLogger } from '../wait-log.js';

/** `pgshift wait <migration> --for <state>`: blocks until the migration gets there. */
export function registerWait(program: Command, wire: Wire): void {
  program
    .command('wait')
    .description(
      'block until a migration reaches a phase (or a passing verification), polling the ledger; exit 0 reached, 1 failed or timed out, 3 no longer reachable',
    )
    .argument('<migration>', 'the migration to wait for')
    .addOption(new Option('--for <state>', 'the phase to wait for, or verified').choices(WAIT_TARGETS).makeOptionMandatory())
    .option('--timeout <s>', 'give up after this many seconds (exit 1); default: no limit', nonNegativeNumber('--timeout'))
    .option('--poll <ms>', 'poll interval (default 500)', positiveInt('--poll'))
    .action(
      wire('wait', async (run, migration: string, opts: { for: WaitTarget; timeout?: number; poll?: number }) => {
        const result = await run.withPgshift({}, (pg) =>
          pg.waitFor(migration, opts.for, { timeoutSeconds: opts.timeout, pollMs: opts.poll, onEvent: waitLogger(run.log()) }),
        );
        return {
          value: { ok: true, ...result },
          human: () => `${migration}: reached ${opts.for} after ${result.seconds}s (now ${result.state})`,
        };
      }),
    );
}
