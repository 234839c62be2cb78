import type { Command } from 'commander';
import { ExitCode } from '../../index.js';
import type { Wire } from '../command.js';
import { formatVerifications } from '../format.js';
import { positiveInt } from '../options.js';

/** `pgshift verify [migration]`: checks the backfilled values and records the evidence; exit 3 on a mismatch. */
export function registerVerify(program: Command, wire: Wire): void {
  program
    .command('verify')
    .description('check values (new vs old) of migrations whose backfill finished; record the evidence (exit 3 on mismatch)')
    .argument('[migration]', 'only this migration')
    .option('--workers <n>', 'verify key ranges in parallel (default 1)', positiveInt('--workers'))
    .action(
      wire('verify', async (run, migration: string | undefined, opts: { workers?: number }) => {
        const results = await run.withPgshift({ progress: true, extra: { backfill: { workers: opts.workers } } }, (pg) =>
          pg.verify(migration),
        );
        const passed = results.every((r) => r.passed);
        return {
          value: { ok: passed, verifications: results },
          human: () => formatVerifications(results),
          exitCode: passed ? ExitCode.ok : ExitCode.refused,
        };
      }),
    );
}
