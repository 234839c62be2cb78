import { Option, type Command } from 'commander';
import { PLAN_FORMATS, recipeKinds, scaffoldMigration, type PlanFormat } from '../../index.js';
import type { Wire } from '../command.js';

interface NewFlags {
  format: PlanFormat;
  recipe?: string;
  schema: string;
  table?: string;
  column?: string;
}

/** `pgshift new <name>`: writes a plan file, filled from the catalog when a database is given. */
export function registerNew(program: Command, wire: Wire): void {
  program
    .command('new')
    .description(
      'write a new plan file <dir>/<timestamp>_<name>.ts (or .js, .json), with one operation of --recipe filled from the catalog',
    )
    .argument('<name>', 'what the migration does, e.g. rename_users_email (letters, digits, "_", "-", ".")')
    .addOption(
      new Option(
        '--format <format>',
        'plan file format: ts loads in ES module and CommonJS projects alike; js is written as an ES module or CommonJS, as the nearest package.json says',
      )
        .choices(PLAN_FORMATS)
        .default('ts'),
    )
    .addOption(new Option('--recipe <operation>', 'one operation of this kind').choices(recipeKinds()))
    .option('--schema <schema>', 'schema of --table', 'public')
    .option('--table <table>', 'the table the operation is on; with a database, checked and described from the catalog')
    .option('--column <column>', 'the column the operation is on (from, column or columns of the recipe)')
    .addHelpText(
      'after',
      `
With --database-url (or DATABASE_URL) and --table, the file gets what the catalog says: the column's
type and default, the batch key, and what hangs on the column (indexes, constraints, foreign keys,
views, triggers). Without one it is written all the same, with no catalog facts. Fields left as
<field> are for you to fill; \`pgshift plan <id>\` then checks the plan.`,
    )
    .action(
      wire('new', async (run, name: string, opts: NewFlags) => {
        const result = await scaffoldMigration({ name, dir: run.globals.dir, ...opts, databaseUrl: run.globals.databaseUrl });
        const human = () =>
          [
            `wrote ${result.file} (id ${result.id})`,
            ...(result.recipe && opts.table !== undefined && !result.catalog ? ['no database given: written without catalog facts'] : []),
            ...result.notes.map((n) => `  ${n}`),
            ...(result.placeholders.length ? [`fill in: ${result.placeholders.map((p) => `<${p}>`).join(', ')}`] : []),
          ].join('\n');
        return { value: { ok: true, ...result }, human };
      }),
    );
}
