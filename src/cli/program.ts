import { Command, CommanderError, InvalidArgumentError as CommanderArgError, Option } from 'commander';
import {
  ExitCode,
  InvalidArgumentError,
  PHASES,
  Pgshift,
  PgshiftError,
  VERSION,
  createLogger,
  exitCodeOf,
  driverFacts,
  isPhase,
  WAIT_TARGETS,
  type WaitEvent,
  type WaitTarget,
  loadParser,
  PLAN_FORMATS,
  recipeKinds,
  scaffoldMigration,
  type Logger,
  type PlanFormat,
  type Phase,
  type PgshiftOptions,
  type VacuumHold,
  VACUUM_HOLDS,
} from '../index.js';
import { formatAdvance, formatControl, formatHistory, formatPhaseSql, formatPlanSummary, formatStamp, formatStatus, formatVerifications } from './format.js';
import { registerLint } from './lint-command.js';
import { registerFleetCommand } from './commands/fleet.js';
import { progressReporter } from './progress.js';
import { TerminalLine } from './terminal.js';

interface GlobalOptions {
  databaseUrl?: string;
  dir: string;
  json?: boolean;
  logLevel?: string;
  lockTimeout: number;
  lockAttempts: number;
  lockMaxDelay: number;
}

interface AdvanceFlags {
  to?: Phase;
  dryRun?: boolean;
  verify: boolean;
  batchSize?: number;
  targetMs?: number;
  minBatch?: number;
  maxBatch?: number;
  maxRate?: Maybe;
  pauseRatio?: number;
  batchDelay?: number;
  maxLag?: Maybe;
  maxLagBytes?: Maybe;
  maxAppWait?: Maybe;
  replicaUrl?: string;
  requireStandby?: string[];
  minStandbys?: number;
  holdOnVacuum?: VacuumHold;
  vacuumEvery?: Maybe;
  workers?: number;
  batchTimeout?: number;
  maxAttempts?: number;
}

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Standard input, for `pgshift lint -` (default: the process's). */
  stdin?: () => Promise<string>;
}

async function processStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const EXIT_CODES_HELP = `
Exit codes:
  0  done, or nothing to do
  1  failure (the ledger records it; rerun resumes)
  2  invalid input: bad plan, unknown table/column, plan changed, bad arguments
  3  refused: contract without passing verification, rollback after contract, the database
     no longer matching the ledger (drift), a migration waiting for an earlier one
  4  busy: another pgshift orchestrator holds this database's lock`;

function positiveInt(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new CommanderArgError(`${name} must be a positive integer`);
    return n;
  };
}

function nonNegativeInt(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new CommanderArgError(`${name} must be a non-negative integer`);
    return n;
  };
}

function nonNegativeNumber(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new CommanderArgError(`${name} must be a number ≥ 0`);
    return n;
  };
}

/** Marks "no value" (off, auto): commander turns a parser's null into '', so this stands in. */
const NONE = Symbol('none');
type Maybe = number | typeof NONE;

/** A positive integer, or a word (off, auto) meaning "no value". */
function intOr(word: string, name: string) {
  return (value: string): Maybe => (value === word ? NONE : positiveInt(name)(value));
}

/** A percentage from 1 to 100 (`20` or `20%`), or `off`. */
function percentOr(word: string, name: string) {
  return (value: string): Maybe => {
    if (value === word) return NONE;
    const m = /^(\d+)%?$/.exec(value.trim());
    const n = m ? Number(m[1]) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > 100) throw new CommanderArgError(`${name} must be a percentage from 1 to 100 (e.g. 20 or 20%) or ${word}`);
    return n;
  };
}

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** A positive size in bytes, with an optional unit (kB, MB, GB: powers of 1024), or `off`. */
function bytesOr(word: string, name: string) {
  return (value: string): Maybe => {
    if (value === word) return NONE;
    const m = /^(\d+)\s*([kmg]?b)?$/i.exec(value.trim());
    const n = m ? Number(m[1]) * BYTE_UNITS[(m[2] ?? '').toLowerCase()]! : NaN;
    if (!Number.isSafeInteger(n) || n < 1) throw new CommanderArgError(`${name} must be a positive size in bytes (e.g. 67108864, 64MB, 512kB) or ${word}`);
    return n;
  };
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** undefined stays undefined (not given); NONE becomes null (explicitly none). */
function orNull(value: Maybe | undefined): number | null | undefined {
  return value === NONE ? null : value;
}

function phaseArg(value: string): Phase {
  if (!isPhase(value)) throw new CommanderArgError(`unknown phase "${value}" (phases: ${PHASES.join(', ')})`);
  return value;
}

/** One place turns results and errors into output and exit codes (library code never exits). */
/** Logs a wait's progress: at once when something changes, else every 10 s. */
function waitLogger(log: Logger | null): (e: WaitEvent) => void {
  let last = '';
  let at = 0;
  return (e) => {
    if (!log || e.kind === 'reached') return;
    const key = e.kind === 'busy' ? `busy ${e.holderPid}` : `${e.state} ${e.running?.action} ${e.running?.phase}`;
    if (key === last && performance.now() - at < 10_000) return;
    last = key;
    at = performance.now();
    if (e.kind === 'busy') log.info({ holderPid: e.holderPid, holderApplication: e.holderApplication, waited: e.elapsedSeconds }, 'another orchestrator holds the lock; waiting');
    else
      log.info(
        { migration: e.migration, state: e.state, running: e.running, backfill: e.backfill, waited: e.elapsedSeconds },
        `waiting for ${e.target}: now ${e.state}${e.running ? `, ${e.running.action} of ${e.running.phase} running` : ''}`,
      );
  };
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  // Any command may parse SQL (plans, custom operations); the parser loads once, asynchronously.
  await loadParser();
  let exitCode: number = ExitCode.ok;
  let log: Logger | null = null;
  let json = false;

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

  const globals = () => program.opts<GlobalOptions>();
  // On a terminal, logs and the progress line share stderr through one writer, logs above the line.
  const terminal = process.stderr.isTTY ? new TerminalLine(process.stderr) : null;
  const logTo = terminal ? { write: (text: string) => terminal.write(text) } : {};

  const open = (extra: Partial<PgshiftOptions> = {}, command = 'pgshift') => {
    const g = globals();
    json = Boolean(g.json);
    log = createLogger({ level: g.logLevel, ...logTo });
    if (!g.databaseUrl) throw new InvalidArgumentError('no database given: pass --database-url or set DATABASE_URL');
    return new Pgshift({
      databaseUrl: g.databaseUrl,
      dir: g.dir,
      log,
      application: `pgshift ${command}`,
      lockPolicy: { lockTimeoutMs: g.lockTimeout, attempts: g.lockAttempts, maxDelayMs: g.lockMaxDelay },
      signal: io.signal,
      ...extra,
    });
  };

  let progress: ReturnType<typeof progressReporter> | null = null;

  /** Opens the library for one command (with a progress display if asked), always closing it. */
  const session = async (
    command: string,
    options: { progress?: boolean; extra?: Partial<PgshiftOptions> },
    body: (pg: Pgshift) => Promise<void>,
  ) => {
    progress = options.progress ? progressReporter(createLogger({ level: globals().logLevel, ...logTo }), terminal) : null;
    const pg = open({ ...options.extra, ...(progress ? { onProgress: progress.onProgress } : {}) }, command);
    try {
      await body(pg);
    } finally {
      progress?.stop();
      await pg.close();
    }
  };

  const print = (value: unknown, human: () => string) => {
    progress?.stop();
    io.stdout(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
  };

  const handle =
    <A extends unknown[]>(fn: (...args: A) => Promise<void>) =>
    async (...args: A) => {
      try {
        await fn(...args);
      } catch (error) {
        exitCode = exitCodeOf(error);
        const message = error instanceof Error ? error.message : String(error);
        const pgFields: { sqlstate?: string; detail?: string; networkError?: string } = error instanceof PgshiftError ? {} : driverFacts(error);
        if (json) {
          const body = error instanceof PgshiftError ? error.toJSON() : { error: 'failure', message, ...pgFields };
          io.stdout(`${JSON.stringify({ ok: false, exitCode, ...body }, null, 2)}\n`);
        }
        io.stderr(
          `pgshift: ${message}${pgFields.sqlstate ? ` (SQLSTATE ${pgFields.sqlstate}${pgFields.detail ? `; ${pgFields.detail}` : ''})` : pgFields.networkError ? ` (${pgFields.networkError})` : ''}\n`,
        );
        if (exitCode === ExitCode.failure && !(error instanceof PgshiftError) && log) (log as Logger).debug({ err: error }, 'stack');
      }
    };

  program
    .command('advance')
    .description('run the next phase of each unfinished migration (one phase per call), or up to --to')
    .argument('[migration]', 'only this migration')
    .option('--to <phase>', `run every phase up to and including this one (${PHASES.join(', ')})`, phaseArg)
    .option('--dry-run', 'check everything and show the SQL that would run; change nothing')
    .option('--no-verify', 'before contract, rely on the recorded verification instead of running a fresh one')
    .option('--batch-size <rows>', 'fixed rows per backfill batch (default: adaptive toward --target-ms)', positiveInt('--batch-size'))
    .option('--target-ms <ms>', 'target time of one batch for the adaptive size (default 200)', positiveInt('--target-ms'))
    .option('--min-batch <rows>', 'smallest adaptive batch (default 100)', positiveInt('--min-batch'))
    .option('--max-batch <rows>', 'largest adaptive batch (default 200000)', positiveInt('--max-batch'))
    .option('--max-rate <rows/s|off>', 'cap on rows per second over all workers (default off)', intOr('off', '--max-rate'))
    .option('--pause-ratio <ratio>', 'after each batch, sleep ratio × its duration (default 0)', nonNegativeNumber('--pause-ratio'))
    .option('--batch-delay <ms>', 'fixed pause after each batch (default 0)', nonNegativeInt('--batch-delay'))
    .option('--max-lag <ms|off>', 'hold while replica replay lag exceeds this (default 10000)', intOr('off', '--max-lag'))
    .option('--max-lag-bytes <size|off>', 'hold while a standby is more than this much WAL behind the primary, e.g. 64MB (default 64MB)', bytesOr('off', '--max-lag-bytes'))
    .option('--replica-url <url>', 'measure replica lag on this standby instead of on the primary; holds while it is not streaming')
    .option('--require-standby <name>', 'on the primary: hold while no standby with this application_name is attached (repeatable)', collect)
    .option('--min-standbys <n>', 'on the primary: hold while fewer standbys are attached (default: as many as at the start of the backfill)', nonNegativeInt('--min-standbys'))
    .option('--max-app-wait <ms|off>', 'shrink batches when an app session waits on a batch longer than this (default 50)', intOr('off', '--max-app-wait'))
    .addOption(
      new Option('--hold-on-vacuum <which>', 'vacuums of the table that hold the backfill: anti-wraparound and manual (wraparound, default), every one (all), none (off)').choices(
        VACUUM_HOLDS,
      ),
    )
    .option('--vacuum-every <percent|off>', "VACUUM the table each time this share of its rows has been backfilled, so later batches reuse the dead rows' space (default 20%)", percentOr('off', '--vacuum-every'))
    .option('--workers <n>', 'backfill workers over disjoint key ranges (default 1)', positiveInt('--workers'))
    .option('--batch-timeout <ms>', 'statement_timeout of one batch (default 10000)', positiveInt('--batch-timeout'))
    .option('--max-attempts <n>', 'attempts at a batch that times out, each smaller, before failing (default 5)', positiveInt('--max-attempts'))
    .option(
      '--expect <migration@state>',
      'refuse (exit 3, nothing changed) unless the migration is in this state before this advance: pending or its last completed phase; repeatable',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--wait', 'when another orchestrator holds the lock, wait for it and then proceed (instead of exit 4)')
    .option('--timeout <s>', 'with --wait: give up after this many seconds (exit 1)', nonNegativeNumber('--timeout'))
    .action(
      handle(async (migration: string | undefined, opts: AdvanceFlags & { expect?: string[]; wait?: boolean; timeout?: number }) => {
        if (opts.timeout !== undefined && !opts.wait) throw new InvalidArgumentError('--timeout needs --wait');
        const extra = {
          backfill: {
            batchSize: opts.batchSize,
            targetMs: opts.targetMs,
            minBatchSize: opts.minBatch,
            maxBatchSize: opts.maxBatch,
            maxRate: orNull(opts.maxRate),
            pauseRatio: opts.pauseRatio,
            delayMs: opts.batchDelay,
            maxLagMs: orNull(opts.maxLag),
            maxLagBytes: orNull(opts.maxLagBytes),
            maxAppWaitMs: orNull(opts.maxAppWait),
            replicaUrl: opts.replicaUrl,
            requireStandbys: opts.requireStandby,
            minStandbys: opts.minStandbys,
            holdOnVacuum: opts.holdOnVacuum,
            vacuumEvery: orNull(opts.vacuumEvery),
            workers: opts.workers,
            batchTimeoutMs: opts.batchTimeout,
            maxAttempts: opts.maxAttempts,
          },
        };
        await session('advance', { progress: true, extra }, async (pg) => {
          const wait = opts.wait ? { timeoutSeconds: opts.timeout, onEvent: waitLogger(log) } : undefined;
          const result = await pg.advance({ migration, to: opts.to, dryRun: opts.dryRun, verify: opts.verify, expect: opts.expect, wait });
          print({ ok: true, ...result }, () => formatAdvance(result));
        });
      }),
    );

  program
    .command('status')
    .description('where each migration stands: phase, backfill progress, verification, last run')
    .argument('[migration]', 'only this migration')
    .action(
      handle(async (migration: string | undefined) => {
        await session('status', {}, async (pg) => {
          const statuses = await pg.status(migration);
          print({ ok: true, migrations: statuses }, () => formatStatus(statuses));
        });
      }),
    );

  program
    .command('wait')
    .description('block until a migration reaches a phase (or a passing verification), polling the ledger; exit 0 reached, 1 failed or timed out, 3 no longer reachable')
    .argument('<migration>', 'the migration to wait for')
    .addOption(new Option('--for <state>', 'the phase to wait for, or verified').choices(WAIT_TARGETS).makeOptionMandatory())
    .option('--timeout <s>', 'give up after this many seconds (exit 1); default: no limit', nonNegativeNumber('--timeout'))
    .option('--poll <ms>', 'poll interval (default 500)', positiveInt('--poll'))
    .action(
      handle(async (migration: string, opts: { for: WaitTarget; timeout?: number; poll?: number }) => {
        await session('wait', {}, async (pg) => {
          const result = await pg.waitFor(migration, opts.for, { timeoutSeconds: opts.timeout, pollMs: opts.poll, onEvent: waitLogger(log) });
          print({ ok: true, ...result }, () => `${migration}: reached ${opts.for} after ${result.seconds}s (now ${result.state})`);
        });
      }),
    );

  program
    .command('history')
    .description('every phase run recorded in the ledger (apply, rollback, verify, stamp)')
    .argument('[migration]', 'only this migration')
    .action(
      handle(async (migration: string | undefined) => {
        await session('history', {}, async (pg) => {
          const runs = await pg.history(migration);
          print({ ok: true, runs }, () => formatHistory(runs));
        });
      }),
    );

  program
    .command('verify')
    .description('check values (new vs old) of migrations whose backfill finished; record the evidence (exit 3 on mismatch)')
    .argument('[migration]', 'only this migration')
    .option('--workers <n>', 'verify key ranges in parallel (default 1)', positiveInt('--workers'))
    .action(
      handle(async (migration: string | undefined, opts: { workers?: number }) => {
        await session('verify', { progress: true, extra: { backfill: { workers: opts.workers } } }, async (pg) => {
          const results = await pg.verify(migration);
          const passed = results.every((r) => r.passed);
          if (!passed) exitCode = ExitCode.refused;
          print({ ok: passed, verifications: results }, () => formatVerifications(results));
        });
      }),
    );

  program
    .command('tune')
    .description('change backfill settings live: a running backfill applies them before its next batch')
    .argument('<migration>')
    .option('--batch-size <rows|auto>', 'fixed rows per batch, or auto (adaptive)', intOr('auto', '--batch-size'))
    .option('--target-ms <ms>', 'target time of one batch for the adaptive size', positiveInt('--target-ms'))
    .option('--max-rate <rows/s|off>', 'cap on rows per second over all workers', intOr('off', '--max-rate'))
    .option('--pause-ratio <ratio>', 'after each batch, sleep ratio × its duration', nonNegativeNumber('--pause-ratio'))
    .option('--max-lag <ms|off>', 'hold while replica replay lag exceeds this', intOr('off', '--max-lag'))
    .option('--max-lag-bytes <size|off>', 'hold while a standby is more than this much WAL behind, e.g. 64MB', bytesOr('off', '--max-lag-bytes'))
    .option('--max-app-wait <ms|off>', 'shrink batches when an app session waits on a batch longer than this', intOr('off', '--max-app-wait'))
    .action(
      handle(async (migration: string, opts: { batchSize?: Maybe; targetMs?: number; maxRate?: Maybe; pauseRatio?: number; maxLag?: Maybe; maxLagBytes?: Maybe; maxAppWait?: Maybe }) => {
        await session('tune', {}, async (pg) => {
          const control = await pg.tune(migration, {
            batchSize: orNull(opts.batchSize),
            targetMs: opts.targetMs,
            maxRate: orNull(opts.maxRate),
            pauseRatio: opts.pauseRatio,
            maxLagMs: orNull(opts.maxLag),
            maxLagBytes: orNull(opts.maxLagBytes),
            maxAppWaitMs: orNull(opts.maxAppWait),
          });
          print({ ok: true, migration, ...control }, () => formatControl(migration, control));
        });
      }),
    );

  for (const [name, description] of [
    ['pause', 'hold the backfill of a migration before its next batch (it stays held until resume)'],
    ['resume', 'let a paused backfill go on'],
  ] as const) {
    program
      .command(name)
      .description(description)
      .argument('<migration>')
      .action(
        handle(async (migration: string) => {
          await session(name, {}, async (pg) => {
            const control = await (name === 'pause' ? pg.pause(migration) : pg.resume(migration));
            print({ ok: true, migration, ...control }, () => formatControl(migration, control));
          });
        }),
      );
  }

  program
    .command('rollback')
    .description('undo every phase of a migration that has not contracted (refused after contract)')
    .argument('<migration>')
    .action(
      handle(async (migration: string) => {
        await session('rollback', {}, async (pg) => {
          const result = await pg.rollback(migration);
          print({ ok: true, ...result }, () =>
            result.from === 'pending'
              ? `${migration}: pending; nothing to roll back`
              : `${migration}: rolled back from ${result.from}; ${result.statements === 0 ? 'nothing to undo (no statement ran); ' : ''}pending again`,
          );
        });
      }),
    );

  program
    .command('new')
    .description('write a new plan file <dir>/<timestamp>_<name>.ts (or .js, .json), with one operation of --recipe filled from the catalog')
    .argument('<name>', 'what the migration does, e.g. rename_users_email (letters, digits, "_", "-", ".")')
    .addOption(new Option('--format <format>', 'plan file format: ts loads in ES module and CommonJS projects alike; js is written as an ES module or CommonJS, as the nearest package.json says').choices(PLAN_FORMATS).default('ts'))
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
      handle(async (name: string, opts: { format: PlanFormat; recipe?: string; schema: string; table?: string; column?: string }) => {
        const g = globals();
        json = Boolean(g.json);
        const result = await scaffoldMigration({ name, dir: g.dir, ...opts, databaseUrl: g.databaseUrl });
        print({ ok: true, ...result }, () =>
          [
            `wrote ${result.file} (id ${result.id})`,
            ...(result.recipe && opts.table !== undefined && !result.catalog ? ['no database given: written without catalog facts'] : []),
            ...result.notes.map((n) => `  ${n}`),
            ...(result.placeholders.length ? [`fill in: ${result.placeholders.map((p) => `<${p}>`).join(', ')}`] : []),
          ].join('\n'),
        );
      }),
    );

  program
    .command('stamp')
    .description('record a phase done by hand as done without running it (adopting a database); checks the database shows it first')
    .argument('<migration>')
    .option('--phase <phase>', `the next phase to record (${PHASES.join(', ')})`, phaseArg)
    .option('--through <phase>', 'record every phase from the next one up to and including this one', phaseArg)
    .addHelpText(
      'after',
      `
Phases are stamped in order; stamping one that is done, or one out of order, exits 3. Stamping
backfill does not skip verification: contract still verifies every row before it drops anything.`,
    )
    .action(
      handle(async (migration: string, opts: { phase?: Phase; through?: Phase }) => {
        await session('stamp', {}, async (pg) => {
          const result = await pg.stamp(migration, { phase: opts.phase, through: opts.through });
          print({ ok: true, ...result }, () => formatStamp(result));
        });
      }),
    );

  program
    .command('plan')
    .description('show the exact SQL of each phase with its lock level; reads the catalog, writes nothing')
    .argument('<migration>')
    .option('--phase <phase>', 'only this phase (or verify, rollback)', (v: string) => {
      if (!isPhase(v) && v !== 'verify' && v !== 'rollback') throw new CommanderArgError(`unknown phase "${v}"`);
      return v as Phase | 'verify' | 'rollback';
    })
    .option('--sql', 'print the exact SQL script, each statement with its lock level (default: a summary)')
    .action(
      handle(async (migration: string, opts: { phase?: Phase | 'verify' | 'rollback'; sql?: boolean }) => {
        await session('plan', {}, async (pg) => {
          const plan = await pg.plan(migration, opts.phase);
          print({ ok: true, ...plan }, () =>
            opts.sql
              ? [`-- ${plan.id} (now: ${plan.state})`, ...plan.phases.map(formatPhaseSql)].join('\n')
              : formatPlanSummary(plan.id, plan.state, plan.phases),
          );
        });
      }),
    );

  registerLint(program, {
    globals: () => {
      const g = globals();
      json = Boolean(g.json);
      return { json: g.json, databaseUrl: g.databaseUrl, databaseUrlFromCli: program.getOptionValueSource('databaseUrl') === 'cli' };
    },
    env: io.env,
    stdout: io.stdout,
    stdin: io.stdin ?? processStdin,
    handle,
    setExitCode: (code) => (exitCode = code),
  });

  registerFleetCommand(program, { globals: () => ({ ...globals(), json: (json = Boolean(globals().json)) }), env: io.env, stdout: io.stdout, stderr: io.stderr, signal: io.signal, terminal: process.stderr.isTTY ? process.stderr : null, handle, setExitCode: (code) => (exitCode = code) });

  try {
    await program.parseAsync(argv as string[], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return ExitCode.ok;
      // With --json, one JSON document on stdout for bad arguments too (commander has written the message to stderr).
      if (argv.includes('--json'))
        io.stdout(`${JSON.stringify({ ok: false, exitCode: ExitCode.invalidInput, error: 'invalid_argument', message: error.message.replace(/^error: /, '') }, null, 2)}\n`);
      return ExitCode.invalidInput;
    }
    throw error;
  }
  return exitCode;
}
