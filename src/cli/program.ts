import { Command, CommanderError, Option } from 'commander';
import {
  ExitCode,
  InvalidArgumentError,
  Pgshift,
  PgshiftError,
  VERSION,
  createLogger,
  driverFacts,
  exitCodeOf,
  loadParser,
  type Logger,
} from '../index.js';
import type { Action, CliIo, GlobalOptions, Invocation, RegisterCommand, Wire } from './command.js';
import { registerAdvance } from './commands/advance.js';
import { registerFleet } from './commands/fleet.js';
import { registerHistory } from './commands/history.js';
import { registerLint } from './commands/lint.js';
import { registerNew } from './commands/new.js';
import { registerPause } from './commands/pause.js';
import { registerPlan } from './commands/plan.js';
import { registerResume } from './commands/resume.js';
import { registerRollback } from './commands/rollback.js';
import { registerStamp } from './commands/stamp.js';
import { registerStatus } from './commands/status.js';
import { registerTune } from './commands/tune.js';
import { registerVerify } from './commands/verify.js';
import { registerWait } from './commands/wait.js';
import { positiveInt } from './options.js';
import { progressReporter } from './progress.js';
import { TerminalLine } from './terminal.js';

export type { CliIo } from './command.js';

/** Every command, in the order `pgshift --help` lists them. A new command is one file in commands/ and one line here. */
const COMMANDS: readonly RegisterCommand[] = [
  registerAdvance,
  registerStatus,
  registerWait,
  registerHistory,
  registerVerify,
  registerTune,
  registerPause,
  registerResume,
  registerRollback,
  registerNew,
  registerStamp,
  registerPlan,
  registerLint,
  registerFleet,
];

const EXIT_CODES_HELP = `
Exit codes:
  0  done, or nothing to do
  1  failure (the ledger records it; rerun resumes)
  2  invalid input: bad plan, unknown table/column, plan changed, bad arguments
  3  refused: contract without passing verification, rollback after contract, the database
     no longer matching the ledger (drift), a migration waiting for an earlier one
  4  busy: another pgshift orchestrator holds this database's lock`;

async function processStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** One place turns a command's error into its exit code, a message on stderr and, with --json, one JSON document (library code never exits). */
function reportError(error: unknown, io: CliIo, json: boolean, log: Logger | null): number {
  const exitCode = exitCodeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  const pgFields: { sqlstate?: string; detail?: string; networkError?: string } = error instanceof PgshiftError ? {} : driverFacts(error);
  if (json) {
    const body = error instanceof PgshiftError ? error.toJSON() : { error: 'failure', message, ...pgFields };
    io.stdout(`${JSON.stringify({ ok: false, exitCode, ...body }, null, 2)}\n`);
  }
  io.stderr(
    `pgshift: ${message}${pgFields.sqlstate ? ` (SQLSTATE ${pgFields.sqlstate}${pgFields.detail ? `; ${pgFields.detail}` : ''})` : pgFields.networkError ? ` (${pgFields.networkError})` : ''}\n`,
  );
  if (exitCode === ExitCode.failure && !(error instanceof PgshiftError) && log) log.debug({ err: error }, 'stack');
  return exitCode;
}

/** Runs one command's action with what it needs for this run alone; prints its outcome; returns the exit code. */
async function runCommand<A extends unknown[]>(program: Command, io: CliIo, name: string, action: Action<A>, args: A): Promise<number> {
  const globals = program.opts<GlobalOptions>();
  const json = Boolean(globals.json);
  // On a terminal, logs and the progress line share stderr through one writer, logs above the line.
  const terminal = process.stderr.isTTY ? new TerminalLine(process.stderr) : null;
  const logTo = terminal ? { write: (text: string) => terminal.write(text) } : {};
  let log: Logger | null = null;
  const logger = () => (log ??= createLogger({ level: globals.logLevel, ...logTo }));
  const run: Invocation = {
    globals,
    databaseUrlFromCli: program.getOptionValueSource('databaseUrl') === 'cli',
    io: { ...io, stdin: io.stdin ?? processStdin },
    log: logger,
    async withPgshift(options, body) {
      const progress = options.progress ? progressReporter(createLogger({ level: globals.logLevel, ...logTo }), terminal) : null;
      const commandLog = logger();
      if (!globals.databaseUrl) throw new InvalidArgumentError('no database given: pass --database-url or set DATABASE_URL');
      const pg = new Pgshift({
        databaseUrl: globals.databaseUrl,
        dir: globals.dir,
        log: commandLog,
        application: `pgshift ${name}`,
        lockPolicy: { lockTimeoutMs: globals.lockTimeout, attempts: globals.lockAttempts, maxDelayMs: globals.lockMaxDelay },
        signal: io.signal,
        ...options.extra,
        ...(progress ? { onProgress: progress.onProgress } : {}),
      });
      try {
        return await body(pg);
      } finally {
        progress?.stop();
        await pg.close();
      }
    },
  };
  try {
    const outcome = await action(run, ...args);
    io.stdout(`${json ? (outcome.json?.() ?? JSON.stringify(outcome.value, null, 2)) : outcome.human()}\n`);
    return outcome.exitCode ?? ExitCode.ok;
  } catch (error) {
    return reportError(error, io, json, log);
  }
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  // Any command may parse SQL (plans, custom operations); the parser loads once, asynchronously.
  await loadParser();
  const program = new Command('pgshift')
    .description('Zero-downtime expand-contract migrations for PostgreSQL.')
    .version(VERSION)
    .addOption(new Option('--database-url <url>', 'PostgreSQL connection URL').env('DATABASE_URL'))
    .option('--dir <dir>', 'directory of migration plans', 'migrations')
    .option('--json', 'print only JSON on stdout (logs stay on stderr)')
    .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']))
    .option('--lock-timeout <ms>', 'lock_timeout of each strong-lock attempt', positiveInt('--lock-timeout'), 1000)
    .option('--lock-attempts <n>', 'attempts per strong-lock statement (jittered backoff between)', positiveInt('--lock-attempts'), 8)
    .option('--lock-max-delay <ms>', 'cap of the jittered exponential backoff between attempts', positiveInt('--lock-max-delay'), 5000)
    .addHelpText('after', EXIT_CODES_HELP)
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError(false);

  // The exit code of the one command this run parses; set when its action ends.
  let exitCode: number = ExitCode.ok;
  const wire: Wire =
    (name, action) =>
    async (...args) => {
      exitCode = await runCommand(program, io, name, action, args);
    };
  for (const register of COMMANDS) register(program, wire);

  try {
    await program.parseAsync(argv as string[], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help')
        return ExitCode.ok;
      // With --json, one JSON document on stdout for bad arguments too (commander has written the message to stderr).
      if (argv.includes('--json'))
        io.stdout(
          `${JSON.stringify({ ok: false, exitCode: ExitCode.invalidInput, error: 'invalid_argument', message: error.message.replace(/^error: /, '') }, null, 2)}\n`,
        );
      return ExitCode.invalidInput;
    }
    throw error;
  }
  return exitCode;
}
