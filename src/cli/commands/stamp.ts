import type { Command } from 'commander';
import { PHASES, type Phase } from '../../index.js';
import type { Wire } from '../command.js';
import { formatStamp } from '../format.js';
import { phaseArg } from '../options.js';

/** `pgshift stamp <migration>`: records phases done by hand as done, after checking the database shows them. */
export function registerStamp(program: Command, wire: Wire): void {
  program
    .command('stamp')
    .description('record a phase done by hand as done without running it (adopting a database); checks the database shows it first')
    .argument('<migration>')
    .option('--phase <phase>', `the next phase to record (${PHASES.join(', ')})`, phaseArg)
    .option('--through <phase>', 'record every phase from the next one up to and including this one', phaseArg)
    .addHelpText(
      'after',
      `
Phases are stamped in order; stamping one that is done, or one out of order, exits 3. Stamping
backfill does not skip verification: contract still verifies every row before it drops anything.`,
    )
    .action(
      wire('stamp', async (run, migration: string, opts: { phase?: Phase; through?: Phase }) => {
        const result = await run.withPgshift({}, (pg) => pg.stamp(migration, { phase: opts.phase, through: opts.through }));
        return { value: { ok: true, ...result }, human: () => formatStamp(result) };
      }),
    );
}
