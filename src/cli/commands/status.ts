import type { Command } from 'commander';
import type { Wire } from '../command.js';
import { formatStatus } from '../format.js';

/** `pgshift status [migration]`: where each migration stands. */
export function registerStatus(program: Command, wire: Wire): void {
  program
    .command('status')
    .description('where each migration stands: phase, backfill progress, verification, last run')
    .argument('[migration]', 'only this migration')
    .action(
      wire('status', async (run, migration: string | undefined) => {
        const statuses = await run.withPgshift({}, (pg) => pg.status(migration));
        return { value: { ok: true, migrations: statuses }, human: () => formatStatus(statuses) };
      }),
    );
}
