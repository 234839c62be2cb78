import { InvalidArgumentError as CommanderArgError, type Command } from 'commander';
import { isPhase, planOffline, type PlanPhase } from '../../index.js';
import type { Wire } from '../command.js';
import { formatPhaseSql, formatPlanSummary } from '../format.js';

function planPhaseArg(value: string): PlanPhase {
  if (!isPhase(value) && value !== 'verify' && value !== 'rollback') throw new CommanderArgError(`unknown phase "${value}"`);
  return value;
}

/** `pgshift plan <migration>`: the SQL of each phase with its lock level; writes nothing. */
export function registerPlan(program: Command, wire: Wire): void {
  program
    .command('plan')
    .description('show the exact SQL of each phase with its lock level; reads the catalog, writes nothing')
    .argument('<migration>')
    .option('--phase <phase>', 'only this phase (or verify, rollback)', planPhaseArg)
    .option('--sql', 'print the exact SQL script, each statement with its lock level (default: a summary)')
    .option(
      '--schema-file <file>',
      'plan without a database: inspect this pg_dump --schema-only output instead (loaded into PostgreSQL in process)',
    )
    .action(
      wire('plan', async (run, migration: string, opts: { phase?: PlanPhase; sql?: boolean; schemaFile?: string }) => {
        if (opts.schemaFile) {
          const plan = await planOffline(migration, { schemaFile: opts.schemaFile, dir: run.globals.dir, phase: opts.phase });
          const note = `-- planned offline from ${plan.offline.schemaFile} (PostgreSQL ${plan.offline.server} in process): row counts unknown`;
          const human = () =>
            opts.sql
              ? [`-- ${plan.id} (now: ${plan.state})`, note, ...plan.phases.map(formatPhaseSql)].join('\n')
              : `${formatPlanSummary(plan.id, plan.state, plan.phases)}\n${note.slice(3)}`;
          return { value: { ok: true, ...plan }, human };
        }
        const plan = await run.withPgshift({}, (pg) => pg.plan(migration, opts.phase));
        const human = () =>
          opts.sql
            ? [`-- ${plan.id} (now: ${plan.state})`, ...plan.phases.map(formatPhaseSql)].join('\n')
            : formatPlanSummary(plan.id, plan.state, plan.phases);
        return { value: { ok: true, ...plan }, human };
      }),
    );
}
