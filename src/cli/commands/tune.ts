import type { Command } from 'commander';
import { addTuneOptions, tuneChange, type TuneFlags } from '../backfill-options.js';
import type { Wire } from '../command.js';
import { formatControl } from '../format.js';

/** `pgshift tune <migration>`: backfill settings changed live; the values are checked by the library's check. */
export function registerTune(program: Command, wire: Wire): void {
  addTuneOptions(
    program
      .command('tune')
      .description('change backfill settings live: a running backfill applies them before its next batch')
      .argument('<migration>'),
  ).action(
    wire('tune', async (run, migration: string, opts: TuneFlags) => {
      const control = await run.withPgshift({}, (pg) => pg.tune(migration, tuneChange(opts)));
      return { value: { ok: true, migration, ...control }, human: () => formatControl(migration, control) };
    }),
  );
}
