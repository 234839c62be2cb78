import type { Command } from 'commander';
import type { Wire } from '../command.js';

/** `pgshift rollback <migration>`: undoes every phase before contract. */
export function registerRollback(program: Command, wire: Wire): void {
  program
    .command('rollback')
    .description('undo every phase of a migration that has not contracted (refused after contract)')
    .argument('<migration>')
    .action(
      wire('rollback', async (run, migration: string) => {
        const result = await run.withPgshift({}, (pg) => pg.rollback(migration));
        const human = () =>
          result.from === 'pending'
            ? `${migration}: pending; nothing to roll back`
            : `${migration}: rolled back from ${result.from}; ${result.statements === 0 ? 'nothing to undo (no statement ran); ' : ''}pending again`;
        return { value: { ok: true, ...result }, human };
      }),
    );
}
