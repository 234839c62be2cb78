import type { Command } from 'commander';
import type { Wire } from '../command.js';
import { formatControl } from '../format.js';

/** `pgshift resume <migration>`: lets a paused backfill go on. */
export function registerResume(program: Command, wire: Wire): void {
  program
    .command('resume')
    .description('let a paused backfill go on')
    .argument('<migration>')
    .action(
      wire('resume', async (run, migration: string) => {
        const control = await run.withPgshift({}, (pg) => pg.resume(migration));
        return { value: { ok: true, migration, ...control }, human: () => formatControl(migration, control) };
      }),
    );
}
