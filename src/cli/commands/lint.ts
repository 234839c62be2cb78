import { Option, type Command } from 'commander';
import { LINT_FORMATS, parseSize, renderLint, runLint, SOURCE_TOOLS, type LintFormat, type SourceTool } from '../../index.js';
import type { Wire } from '../command.js';

interface LintFlags {
  format?: LintFormat;
  assumeTransaction?: boolean;
  tool?: SourceTool;
  bigTable: string;
}

/** `pgshift lint <files or globs…>`: lints SQL migration files (any tool's) with the custom operation's rules and more. */
export function registerLint(program: Command, wire: Wire): void {
  program
    .command('lint')
    .description(
      'lint SQL migration files (Alembic --sql, Prisma, Flyway, plain .sql) for locks, rewrites and breaking changes; exit 3 on an error-level finding',
    )
    .argument('[files...]', 'SQL files or glob patterns (quote them), - for standard input')
    .addOption(new Option('--format <format>', 'output format (default: github under GitHub Actions, else human)').choices(LINT_FORMATS))
    .option('--assume-transaction', 'each file runs inside one transaction opened by the migration tool')
    .addOption(
      new Option('--tool <tool>', 'the tool that runs the files; sets --assume-transaction to what it does').choices(
        Object.keys(SOURCE_TOOLS),
      ),
    )
    .option(
      '--big-table <size>',
      'with --database-url: a lock or rewrite on a table this big or bigger is an error, below it a warning',
      '10MB',
    )
    .addHelpText(
      'after',
      `
Without --database-url every table a statement names is taken to exist and to be big, unless the file
creates it first; each finding says what it assumed. With --database-url (on the command line only, not
DATABASE_URL) table existence, sizes, column types and PostgreSQL's own rewrite verdict are read from the
catalog; nothing is changed. Suppress a finding with a comment before the statement:
  -- pgshift-lint: allow <rule> <reason>
Exit codes: 0 no error-level finding, 2 a file missing or not parsable, 3 an error-level finding.`,
    )
    .action(
      wire('lint', async (run, files: string[], flags: LintFlags) => {
        const databaseUrl = run.databaseUrlFromCli ? run.globals.databaseUrl : undefined;
        const { report, sources } = await runLint({
          inputs: files,
          stdin: run.io.stdin,
          ...(flags.assumeTransaction ? { assumeTransaction: true } : {}),
          ...(flags.tool ? { tool: flags.tool } : {}),
          ...(databaseUrl ? { databaseUrl } : {}),
          bigTableBytes: parseSize(flags.bigTable),
        });
        const format: LintFormat = flags.format ?? (run.io.env.GITHUB_ACTIONS === 'true' ? 'github' : 'human');
        // The report is its own document in every format, JSON included.
        return {
          value: report,
          human: () => renderLint(report, format, sources),
          json: () => renderLint(report, 'json', sources),
          exitCode: report.exitCode,
        };
      }),
    );
}
