import type { Command } from 'commander';
import type { Wire } from '../command.js';
import { formatControl } from '../format.js';

/** `pgshift pause <migration>`: holds the backfill before its next batch, until resume. */
export function registerPause(program: Command, wire: Wire): void {
  program
    .command('pause')
    .description('hold the backfill of a migration before its next batch (it stays held until resume)')
    .argument('<migration>')
    .action(
      wire('pause', async (run, migration: string) => {
        const control = await run.withPgshift({}, (pg) => pg.pause(migration));
        return { value: { ok: true, migration, ...control }, human: () => formatControl(migration, control) };
      }),
    );
}
