import { Option, type Command } from 'commander';
import {
  FAILURE_POLICIES,
  WAIT_TARGETS,
  createLogger,
  fleetAdvance,
  fleetControl,
  fleetRollback,
  fleetStatus,
  fleetVerify,
  fleetWait,
  loadTargets,
  parseShard,
  parseWaves,
  type FailurePolicy,
  type FleetControlAction,
  type FleetEvent,
  type FleetOptions,
  type Logger,
  type Phase,
  type WaitTarget,
} from '../../index.js';
import {
  addBackfillOptions,
  addTuneOptions,
  backfillSettings,
  tuneChange,
  type BackfillFlags,
  type TuneFlags,
} from '../backfill-options.js';
import type { Invocation, RegisterCommand } from '../command.js';
import { nonNegativeNumber, phaseArg, positiveInt } from '../options.js';
import { TerminalBlock, type TerminalStream } from '../terminal.js';

/** What the fleet commands need from the program: its global options, output, and error handling. */
export interface FleetCommandContext {
  globals: () => { dir: string; json?: boolean; logLevel?: string; lockTimeout: number; lockAttempts: number; lockMaxDelay: number };
  env: NodeJS.ProcessEnv;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  signal?: AbortSignal;
  /** The terminal (stderr) when it is one: the live table is drawn there. */
  terminal?: (TerminalStream & { rows?: number }) | null;
  /** Wraps the action: errors become an exit code and, with --json, one JSON document. */
  handle: <A extends unknown[]>(fn: (...args: A) => Promise<void>) => (...args: A) => Promise<void>;
  setExitCode: (code: number) => void;
}

interface CommonFlags {
  targets?: string;
  targetsCommand?: string;
  shard?: string;
  concurrency: number;
  onFailure: FailurePolicy;
}

const EXIT_CODES_HELP = `
Targets: a JSON or YAML file of [{ name, url, replicaUrl? }] (or { targets: [...] }); \${VAR} in a
URL is read from the environment. URLs are printed without their password; replicaUrl (a standby
to measure the target's replica lag on during its backfill) is never printed.
Exit codes: 0 every target reached the phase, 1 some failed or were unreachable (named), 2 invalid
input (targets file, arguments), 3 refused (lockstep, --expect, a gate), 4 some were busy.`;

const BACKFILL_HELP = `
The backfill options are those of \`pgshift advance\` and apply to each target's backfill. A standby
to measure replica lag on (advance's --replica-url) names one database's replica: give it per
target, as replicaUrl in the targets file.`;

function common(cmd: Command): Command {
  return cmd
    .option('--targets <file>', 'JSON or YAML file listing the fleet: [{ name, url, replicaUrl? }]')
    .option('--targets-command <cmd>', 'shell command whose stdout lists the fleet (same format)')
    .option('--shard <i/n>', 'act on shard i of n only (a stable split by target name; lockstep still reads every target)')
    .option('--concurrency <n>', 'targets worked on at once', positiveInt('--concurrency'), 4)
    .addOption(
      new Option(
        '--on-failure <policy>',
        'halt: start nothing new and stop running backfills after their batch; continue: report and go on',
      )
        .choices(FAILURE_POLICIES)
        .default('halt'),
    )
    .addHelpText('after', EXIT_CODES_HELP);
}

/**
 * The fleet command in runCli's registry: each run's invocation (its globals, io) is the context;
 * the text or JSON document a subcommand prints becomes the outcome runCli prints.
 */
export const registerFleet: RegisterCommand = (program, wire) => {
  let invocation: Invocation | undefined;
  let printed = '';
  let exitCode = 0;
  const current = (): Invocation => {
    if (!invocation) throw new Error('fleet: no invocation');
    return invocation;
  };
  registerFleetCommand(program, {
    globals: () => current().globals,
    get env() {
      return current().io.env;
    },
    stdout: (text) => {
      printed += text;
    },
    stderr: (text) => current().io.stderr(text),
    get signal() {
      return current().io.signal;
    },
    terminal: process.stderr.isTTY ? process.stderr : null,
    handle: (fn) =>
      wire('fleet', async (run, ...args) => {
        invocation = run;
        printed = '';
        exitCode = 0;
        await fn(...args);
        const text = printed.replace(/\n$/, '');
        return { value: null, human: () => text, json: () => text, exitCode };
      }),
    setExitCode: (code) => {
      exitCode = code;
    },
  });
};

/** `pgshift fleet <advance|status|wait|verify|rollback|tune|pause|resume>`: one plan over many databases. */
export function registerFleetCommand(program: Command, ctx: FleetCommandContext): void {
  const fleet = program
    .command('fleet')
    .description('roll a migration out over many databases (a fleet) in lockstep, in waves; see docs/fleets.md');

  const options = async (flags: CommonFlags, log: Logger, onEvent?: (e: FleetEvent) => void): Promise<FleetOptions> => {
    const g = ctx.globals();
    const targets = await loadTargets({ file: flags.targets, command: flags.targetsCommand, env: ctx.env });
    return {
      targets,
      shard: flags.shard ? parseShard(flags.shard) : undefined,
      dir: g.dir,
      concurrency: flags.concurrency,
      onFailure: flags.onFailure,
      log,
      application: 'pgshift fleet',
      lockPolicy: { lockTimeoutMs: g.lockTimeout, attempts: g.lockAttempts, maxDelayMs: g.lockMaxDelay },
      signal: ctx.signal,
      onEvent,
    };
  };

  /** Runs one subcommand: live table or plain lines on stderr, one JSON document or text on stdout. */
  const run = async <R extends { exitCode: number }>(
    command: string,
    flags: CommonFlags,
    extra: Partial<FleetOptions>,
    body: (o: FleetOptions) => Promise<R>,
    text: (r: NoInfer<R>) => string,
  ) => {
    const g = ctx.globals();
    const display = new FleetDisplay(ctx, g.logLevel);
    const log = createLogger({ level: g.logLevel ?? 'warn', write: (line) => display.log(line) });
    try {
      const result = await body({ ...(await options(flags, log, (e) => display.onEvent(e))), ...extra });
      display.stop();
      ctx.setExitCode(result.exitCode);
      ctx.stdout(g.json ? `${JSON.stringify({ ...result, command }, null, 2)}\n` : `${text(result)}\n`);
    } finally {
      display.stop();
    }
  };

  const advance = common(fleet.command('advance'))
    .description(
      'take every target to the next phase of a migration (or phase by phase up to --to), never starting a phase anywhere before every target finished the one before',
    )
    .argument('[migration]', 'the migration (default: the first that some target has not contracted)')
    .option('--to <phase>', 'advance phase by phase, in lockstep, up to and including this one', phaseArg)
    .option('--waves <sizes>', 'cumulative wave sizes, e.g. 1,10%,100% (default 1,100%: one canary, then the rest)')
    .option('--verify-canary', 'after each backfill wave but the last, verify its targets before the next wave starts')
    .option('--no-verify', 'before contract, rely on the recorded verification instead of running a fresh one')
    .option(
      '--expect <migration@state>',
      'refuse (exit 3, nothing started) unless every target is in this state; repeatable',
      (v: string, prev: string[] = []) => [...prev, v],
    );
  addBackfillOptions(advance, { replicaUrl: false })
    .addHelpText('after', BACKFILL_HELP)
    .action(
      ctx.handle(
        async (
          migration: string | undefined,
          f: CommonFlags &
            BackfillFlags & {
              to?: Phase;
              waves?: string;
              verifyCanary?: boolean;
              verify: boolean;
              expect?: string[];
            },
        ) => {
          const waves = f.waves ? parseWaves(f.waves) : undefined;
          const backfill = backfillSettings(f);
          await run(
            'fleet advance',
            f,
            { backfill },
            (o: FleetOptions) =>
              fleetAdvance(o, { migration, to: f.to, waves, verifyCanary: f.verifyCanary, verify: f.verify, expect: f.expect }),
            (r) =>
              [
                ...r.targets.map(
                  (t) =>
                    `${t.name}: ${t.result}${t.from !== t.to ? ` (${t.from ?? '?'} → ${t.to ?? '?'})` : t.to ? ` (${t.to})` : ''}${t.error && t.error.message !== r.message ? `: ${t.error.message}` : ''}`,
                ),
                r.migration
                  ? (r.message ??
                    `${r.migration}: ${
                      r.ok
                        ? `every target has ${r.phase}`
                        : `not every target reached the phase (${Object.entries(r.summary)
                            .map(([k, n]) => `${n} ${k}`)
                            .join(', ')})`
                    }`)
                  : 'nothing to do: every migration has contracted on every target',
              ].join('\n'),
          );
        },
      ),
    );

  common(fleet.command('status'))
    .description("where every target stands (each one's own ledger), summarised by migration@state")
    .argument('[migration]', 'only this migration')
    .action(
      ctx.handle(async (migration: string | undefined, f: CommonFlags) => {
        await run(
          'fleet status',
          f,
          {},
          (o: FleetOptions) => fleetStatus(o, migration),
          (r) =>
            [
              ...r.targets.map(
                (t) =>
                  `${t.name}  ${t.url}  ${t.error ? `${t.error.code}: ${t.error.message}` : t.migrations.map((m) => `${m.id}@${m.state}${m.backfillSummary && !m.backfillSummary.finished ? ` ${m.backfillSummary.percent ?? '?'}%` : ''}`).join(' ') || 'no migrations'}`,
              ),
              `summary: ${
                Object.entries(r.summary.byState)
                  .map(([k, n]) => `${k}: ${n}`)
                  .join(', ') || 'nothing recorded'
              }${r.summary.unreachable ? `; unreachable: ${r.summary.unreachable}` : ''}${r.summary.failed ? `; failed: ${r.summary.failed}` : ''}`,
            ].join('\n'),
        );
      }),
    );

  common(fleet.command('wait'))
    .description('block until every target has the migration at a phase (or verified); without --shard it joins every shard')
    .argument('[migration]', 'the migration (default: the first some target has not taken there)')
    .addOption(new Option('--for <state>', 'the phase to wait for, or verified').choices(WAIT_TARGETS).makeOptionMandatory())
    .option('--timeout <s>', 'give up after this many seconds (exit 1); default: no limit', nonNegativeNumber('--timeout'))
    .option('--poll <ms>', 'poll interval of each target (default 500)', positiveInt('--poll'))
    .action(
      ctx.handle(async (migration: string | undefined, f: CommonFlags & { for: WaitTarget; timeout?: number; poll?: number }) => {
        await run(
          'fleet wait',
          f,
          {},
          (o: FleetOptions) => fleetWait(o, { migration, target: f.for, timeoutSeconds: f.timeout, pollMs: f.poll }),
          (r) =>
            [
              ...r.targets
                .filter((t) => t.result !== 'reached')
                .map((t) => `${t.name}: ${t.result}${t.error ? `: ${t.error.message}` : ''}`),
              `${r.migration}: ${r.ok ? `every target reached ${r.target}` : `not every target reached ${r.target}`} after ${r.seconds}s (${Object.entries(
                r.summary,
              )
                .map(([k, n]) => `${n} ${k}`)
                .join(', ')})`,
            ].join('\n'),
        );
      }),
    );

  const eachText =
    (verb: string) =>
    (r: {
      migration: string | null;
      targets: { name: string; result: string; error?: { message: string } }[];
      summary: Record<string, number | undefined>;
    }) =>
      [
        ...r.targets.map((t) => `${t.name}: ${t.result}${t.error ? `: ${t.error.message}` : ''}`),
        `${verb}${r.migration ? ` ${r.migration}` : ''}: ${Object.entries(r.summary)
          .map(([k, n]) => `${n} ${k}`)
          .join(', ')}`,
      ].join('\n');

  common(fleet.command('verify'))
    .description('verify the migration on every target (exit 3 when any has mismatches)')
    .argument('[migration]', 'only this migration')
    .action(
      ctx.handle(async (migration: string | undefined, f: CommonFlags) => {
        await run('fleet verify', f, {}, (o: FleetOptions) => fleetVerify(o, migration), eachText('verify'));
      }),
    );

  common(fleet.command('rollback'))
    .description('undo every phase of the migration on every target that has not contracted')
    .argument('<migration>')
    .action(
      ctx.handle(async (migration: string, f: CommonFlags) => {
        await run('fleet rollback', f, {}, (o: FleetOptions) => fleetRollback(o, migration), eachText('rollback'));
      }),
    );

  addTuneOptions(
    common(fleet.command('tune'))
      .description("change every target's running backfill live (applied before its next batch)")
      .argument('[migration]', 'the migration (default: the one being rolled out)'),
  ).action(
    ctx.handle(async (migration: string | undefined, f: CommonFlags & TuneFlags) => {
      const control: FleetControlAction = { action: 'tune', settings: tuneChange(f) };
      await run('fleet tune', f, {}, (o: FleetOptions) => fleetControl(o, control, migration), eachText('tune'));
    }),
  );

  for (const [name, description] of [
    ['pause', "hold every target's backfill before its next batch (until fleet resume)"],
    ['resume', "let every target's paused backfill go on"],
  ] as const) {
    common(fleet.command(name))
      .description(description)
      .argument('[migration]', 'the migration (default: the one being rolled out)')
      .action(
        ctx.handle(async (migration: string | undefined, f: CommonFlags) => {
          await run(`fleet ${name}`, f, {}, (o: FleetOptions) => fleetControl(o, { action: name }, migration), eachText(name));
        }),
      );
  }
}

/** The live view: a table on a terminal, plain lines on stderr otherwise (none below log level info). */
class FleetDisplay {
  private readonly block: TerminalBlock | null;
  private readonly rows = new Map<string, { state: string; progress: string; rate: string; hold: string }>();
  private readonly quiet: boolean;
  private drawn = 0;
  private stopped = false;

  constructor(
    private readonly ctx: FleetCommandContext,
    logLevel: string | undefined,
  ) {
    this.block = ctx.terminal ? new TerminalBlock(ctx.terminal) : null;
    this.quiet = ['silent', 'error', 'warn'].includes(logLevel ?? 'info');
  }

  log(line: string): void {
    if (this.block) this.block.write(line);
    else this.ctx.stderr(line.endsWith('\n') ? line : `${line}\n`);
  }

  onEvent(e: FleetEvent): void {
    if (this.block) {
      this.update(e);
      return;
    }
    if (this.quiet) return;
    const line = plainLine(e);
    if (line) this.ctx.stderr(`${line}\n`);
  }

  stop(): void {
    if (!this.block || this.stopped) return;
    this.stopped = true;
    // The last change may have come within the redraw interval: the table left behind is the final one.
    if (this.rows.size) this.draw(true);
    this.block.done();
  }

  private update(e: FleetEvent): void {
    if (this.stopped) return;
    const row = (name: string) => {
      let r = this.rows.get(name);
      if (!r) this.rows.set(name, (r = { state: '', progress: '', rate: '', hold: '' }));
      return r;
    };
    if (e.kind === 'step') {
      for (const n of e.waves.flat()) Object.assign(row(n), { state: `waiting for ${e.phase}` });
      for (const n of e.upToDate) Object.assign(row(n), { state: `has ${e.phase}` });
    } else if (e.kind === 'target-start')
      Object.assign(row(e.name), { state: `${e.action}${e.phase ? ` ${e.phase}` : ''}…`, progress: '', rate: '', hold: '' });
    else if (e.kind === 'target-progress') {
      const p = e.progress;
      const pct = p.finished ? 100 : p.rowEstimate ? Math.min(99, Math.floor((100 * p.rowsDone) / Math.max(1, p.rowEstimate))) : null;
      Object.assign(row(e.name), {
        progress: `${pct ?? '?'}% ${p.rowsDone} rows`,
        rate: `${Math.round(p.rowsPerSecond)}`,
        hold: p.holdReason ?? '',
      });
    } else if (e.kind === 'target-done') {
      Object.assign(row(e.name), { state: `${e.result}${e.state ? ` (${e.state})` : ''}`, hold: e.error ? e.error.message : '' });
    } else if (e.kind === 'halt') {
      this.block!.write(`halt: ${e.cause} failed; stopping ${e.stopping.join(', ') || 'nothing else'} after the current batch`);
    } else if (e.kind === 'wave' && e.status !== 'started') {
      this.block!.write(`${e.phase} wave ${e.index + 1} (${e.targets.length} target${e.targets.length === 1 ? '' : 's'}): ${e.status}`);
    }
    this.draw();
  }

  private draw(force = false): void {
    const now = Date.now();
    if (!force && now - this.drawn < 100) return;
    this.drawn = now;
    const names = [...this.rows.keys()];
    const width = Math.max(6, ...names.map((n) => n.length));
    const lines = [
      `${'target'.padEnd(width)}  ${'state'.padEnd(24)}  ${'progress'.padEnd(18)}  ${'rows/s'.padStart(8)}  hold`,
      ...names.map((n) => {
        const r = this.rows.get(n)!;
        return `${n.padEnd(width)}  ${r.state.padEnd(24)}  ${r.progress.padEnd(18)}  ${r.rate.padStart(8)}  ${r.hold}`;
      }),
    ];
    this.block!.show(lines);
  }
}

function plainLine(e: FleetEvent): string | null {
  switch (e.kind) {
    case 'step':
      return `fleet: ${e.migration}: ${e.phase} on ${e.waves.flat().length} target(s) in ${e.waves.length} wave(s); ${e.upToDate.length} already there`;
    case 'wave':
      return e.status === 'started'
        ? `fleet: ${e.phase} wave ${e.index + 1}: ${e.targets.join(', ')}`
        : `fleet: ${e.phase} wave ${e.index + 1}: ${e.status}`;
    case 'target-start':
      return null;
    case 'target-progress':
      return null;
    case 'target-done':
      return `fleet: ${e.name}: ${e.action} ${e.result}${e.state ? ` (now ${e.state})` : ''} in ${e.seconds}s${e.error ? `: ${e.error.message}` : ''}`;
    case 'halt':
      return `fleet: ${e.cause} failed; --on-failure halt: starting nothing new${e.stopping.length ? `, stopping ${e.stopping.join(', ')} after the current batch` : ''}`;
  }
}
