import type { Command } from 'commander';
import type { Wire } from '../command.js';
import { formatHistory } from '../format.js';

/** `pgshift history [migration]`: every run the ledger recorded. */
export function registerHistory(program: Command, wire: Wire): void {
  program
    .command('history')
    .description('every phase run recorded in the ledger (apply, rollback, verify, stamp)')
    .argument('[migration]', 'only this migration')
    .action(
      wire('history', async (run, migration: string | undefined) => {
        const runs = await run.withPgshift({}, (pg) => pg.history(migration));
        return { value: { ok: true, runs }, human: () => formatHistory(runs) };
      }),
    );
}
