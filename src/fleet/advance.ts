import pLimit from 'p-limit';
import {
  ExitCode,
  FleetLockstepError,
  InterruptedError,
  InvalidArgumentError,
  MigrationNotFoundError,
  type ExitCode as ExitCodeT,
} from '../errors.js';
import { parseExpectation } from '../expect.js';
import { nextPhase, type MigrationStatus } from '../orchestrator.js';
import { PHASES, type MigrationState, type Phase } from '../plan/model.js';
import { countBy, exitCodeOfResults, FleetRun, rank, seconds, type FleetOptions, type FleetTargetError } from './context.js';
import type { FleetTarget } from './targets.js';
import { DEFAULT_WAVES, splitWaves, type WaveSize } from './waves.js';

export type FleetAdvanceResult = 'advanced' | 'up-to-date' | 'failed' | 'busy' | 'unreachable' | 'not-started' | 'refused';

export interface FleetAdvanceOptions {
  /** The migration to roll out (default: the first, by id, that some target has not contracted). */
  migration?: string;
  /** Advance phase by phase, in lockstep, up to and including this one (default: the next phase only). */
  to?: Phase;
  /** Cumulative wave sizes (default: one canary, then the rest). */
  waves?: readonly WaveSize[];
  /** After a backfill wave (all but the last), verify its targets before the next wave starts. */
  verifyCanary?: boolean;
  /** Before contract, run a fresh verification on each target (default true). */
  verify?: boolean;
  /** `<migration>@<state>`: refuse (exit 3, nothing started) unless every target of this run is in that state. */
  expect?: readonly string[];
}

export interface FleetAdvanceTarget {
  name: string;
  url: string;
  from: MigrationState | null;
  to: MigrationState | null;
  result: FleetAdvanceResult;
  seconds: number;
  error?: FleetTargetError;
}

export interface FleetWave {
  index: number;
  phase: Phase;
  targets: string[];
  result: 'succeeded' | 'failed' | 'not-started';
}

export interface FleetAdvanceReport {
  ok: boolean;
  exitCode: ExitCodeT;
  migration: string | null;
  /** The phase every target of this run has reached (null: none yet, or some state unknown). */
  phase: Phase | null;
  waves: FleetWave[];
  targets: FleetAdvanceTarget[];
  summary: Partial<Record<FleetAdvanceResult, number>>;
  /** Set when the run was refused before anything started (lockstep, expectations). */
  error?: string;
  message?: string;
  laggards?: { name: string; state: string }[];
}

type Read = { state: MigrationState } | { error: unknown };

function stateIn(statuses: MigrationStatus[] | { error: unknown }, migration: string): Read {
  if (!Array.isArray(statuses)) return statuses;
  return { state: statuses.find((s) => s.id === migration)?.state ?? 'pending' };
}

/**
 * Takes every target of the fleet (or of this shard) to the next phase of a migration, in waves,
 * `concurrency` at a time, and never starts a phase on any target while a target of the whole
 * fleet (every shard) has not finished the phase before it. The state is read from each
 * database's own ledger, so any machine can resume a rollout another one started.
 */
export async function fleetAdvance(options: FleetOptions, advance: FleetAdvanceOptions = {}): Promise<FleetAdvanceReport> {
  const run = new FleetRun(options);
  const plans = await run.migrations();
  if (!plans.length) throw new InvalidArgumentError('no migrations found: pass the plans directory with --dir');
  (advance.expect ?? []).forEach(parseExpectation);
  if (advance.migration && !plans.some((p) => p.id === advance.migration))
    throw new MigrationNotFoundError(
      advance.migration,
      plans.map((p) => p.id),
    );
  const reports = new Map<string, FleetAdvanceTarget>(
    run.acting.map((t) => [t.name, { name: t.name, url: run.url(t), from: null, to: null, result: 'not-started', seconds: 0 }]),
  );
  const waves: FleetWave[] = [];
  let migration = advance.migration ?? null;
  let refusal: Pick<FleetAdvanceReport, 'error' | 'message' | 'laggards'> = {};
  let first = true;
  let halted = false;

  const finish = (): FleetAdvanceReport => {
    const targets = [...reports.values()];
    const results = targets.map((t) => t.result);
    const exitCode = refusal.error ? ExitCode.refused : exitCodeOfResults(results, ['failed', 'unreachable', 'not-started']);
    const states = targets.map((t) => t.to);
    const lowest = states.every((s) => s !== null) && states.length ? states.reduce((a, b) => (rank(a!) <= rank(b!) ? a : b)) : null;
    return {
      ok: exitCode === ExitCode.ok,
      exitCode,
      migration,
      phase: lowest && lowest !== 'pending' ? lowest : null,
      waves,
      targets,
      summary: countBy(results),
      ...refusal,
    };
  };

  for (;;) {
    const reads = await run.statuses(run.all);
    // Which migration: the named one, else the first (by id) that some reachable target has not contracted.
    if (!migration) {
      migration =
        plans.find((p) => [...reads.values()].some((r) => Array.isArray(r) && r.find((m) => m.id === p.id)?.state !== 'contract'))?.id ??
        null;
      if (!migration) {
        for (const t of run.acting) {
          const r = reads.get(t.name)!;
          if (Array.isArray(r)) Object.assign(reports.get(t.name)!, { result: 'up-to-date', from: 'contract', to: 'contract' });
          else
            Object.assign(reports.get(t.name)!, {
              result: run.outcomeOf(r.error) === 'unreachable' ? 'unreachable' : 'failed',
              error: run.errorOf(r.error),
            });
        }
        return finish();
      }
    }
    const id = migration;
    const state = new Map<string, Read>([...reads].map(([name, r]) => [name, stateIn(r, id)]));
    for (const t of run.acting) {
      const r = state.get(t.name)!;
      const report = reports.get(t.name)!;
      if ('state' in r) {
        report.from ??= r.state;
        report.to = r.state;
      }
    }
    const unreachable = run.acting.filter((t) => 'error' in state.get(t.name)!);
    for (const t of unreachable) {
      const { error } = state.get(t.name) as { error: unknown };
      Object.assign(reports.get(t.name)!, {
        result: run.outcomeOf(error) === 'unreachable' ? 'unreachable' : 'failed',
        error: run.errorOf(error),
      });
    }
    if (unreachable.length && run.policy === 'halt') {
      run.log.error({ targets: unreachable.map((t) => t.name) }, 'targets could not be read; --on-failure halt: nothing started');
      return finish();
    }
    const reachable = run.acting.filter((t) => 'state' in state.get(t.name)!);
    const stateOf = (t: FleetTarget) => (state.get(t.name) as { state: MigrationState }).state;
    if (!reachable.length) return finish();

    const lowest = reachable.map(stateOf).reduce((a, b) => (rank(a) <= rank(b) ? a : b));
    const phase = nextPhase(lowest);
    const beyondGoal = advance.to !== undefined && phase !== null && PHASES.indexOf(phase) > PHASES.indexOf(advance.to);
    if (phase === null || beyondGoal) {
      for (const t of reachable) {
        const report = reports.get(t.name)!;
        if (report.result === 'not-started') report.result = 'up-to-date';
      }
      return finish();
    }

    if (first && advance.expect?.length) {
      const expected = advance.expect.map(parseExpectation);
      const mismatches = reachable.flatMap((t) =>
        expected.flatMap((e) => {
          const actual = stateIn(reads.get(t.name)!, e.migration);
          return 'state' in actual && actual.state !== e.state
            ? [{ name: t.name, migration: e.migration, expected: e.state, actual: actual.state }]
            : [];
        }),
      );
      if (mismatches.length) {
        const message = `refused, nothing started: ${mismatches.map((m) => `${m.name}: ${m.migration} is ${m.actual}, expected ${m.expected}`).join('; ')}`;
        for (const t of reachable)
          Object.assign(reports.get(t.name)!, { result: 'refused', error: { code: 'expectation_failed', message } });
        refusal = { error: 'expectation_failed', message };
        return finish();
      }
    }

    // Lockstep, over the whole fleet (every shard): `phase` needs the one before it done everywhere.
    const needs = PHASES[PHASES.indexOf(phase) - 1];
    if (needs) {
      const laggards = run.all.flatMap((t) => {
        const r = state.get(t.name)!;
        if ('state' in r) return rank(r.state) < rank(needs) ? [{ name: t.name, state: r.state }] : [];
        // Unknown state: under halt it holds the fleet back; under continue it is reported, not waited for.
        return run.policy === 'halt' ? [{ name: t.name, state: 'unreachable' }] : [];
      });
      if (laggards.length) {
        const error = new FleetLockstepError(id, phase, needs, laggards);
        run.log.warn({ laggards }, error.message);
        for (const t of reachable) {
          const report = reports.get(t.name)!;
          if (report.result === 'not-started' || report.result === 'up-to-date' || report.result === 'advanced')
            Object.assign(report, { result: 'refused', error: { code: error.code, message: error.message } });
        }
        refusal = { error: error.code, message: error.message, laggards };
        return finish();
      }
    }

    const work = reachable.filter((t) => rank(stateOf(t)) < rank(phase));
    const done = reachable.filter((t) => rank(stateOf(t)) >= rank(phase));
    for (const t of done) {
      const report = reports.get(t.name)!;
      if (report.result === 'not-started') report.result = 'up-to-date';
    }
    const planned = splitWaves(work, advance.waves ?? DEFAULT_WAVES);
    run.emit({ kind: 'step', migration: id, phase, waves: planned.map((w) => w.map((t) => t.name)), upToDate: done.map((t) => t.name) });
    run.log.debug(
      { migration: id, phase, targets: work.length, waves: planned.length },
      `${id}: ${phase} on ${work.length} target(s) in ${planned.length} wave(s)`,
    );

    const stepFailed = await runWaves(run, {
      id,
      phase,
      planned,
      waves,
      reports,
      advance,
      expect: first ? advance.expect : undefined,
      halted: () => halted,
      halt: () => (halted = true),
    });
    first = false;
    // Without --to, one phase per run; with it, the ledgers are read again before the next phase.
    if (stepFailed || halted || advance.to === undefined) return finish();
  }
}

interface StepContext {
  id: string;
  phase: Phase;
  planned: FleetTarget[][];
  waves: FleetWave[];
  reports: Map<string, FleetAdvanceTarget>;
  advance: FleetAdvanceOptions;
  expect: readonly string[] | undefined;
  halted: () => boolean;
  halt: () => void;
}

/** Runs the waves of one phase; true when a target did not reach it (the next phase must not start). */
async function runWaves(run: FleetRun, step: StepContext): Promise<boolean> {
  const { id, phase, reports } = step;
  const running = new Map<string, AbortController>();
  let haltCause: string | null = null;
  let anyFailed = false;

  const stopOthers = (cause: string) => {
    if (run.policy !== 'halt' || step.halted()) return;
    step.halt();
    haltCause = cause;
    const stopping = [...running.keys()].filter((n) => n !== cause);
    run.log.warn(
      { cause, stopping },
      `${cause} failed; --on-failure halt: starting nothing new, stopping running backfills after their batch`,
    );
    run.emit({ kind: 'halt', cause, stopping });
    for (const [name, controller] of running) if (name !== cause) controller.abort();
  };

  const one = async (t: FleetTarget): Promise<boolean> => {
    const report = reports.get(t.name)!;
    if (step.halted()) return false;
    const controller = new AbortController();
    running.set(t.name, controller);
    const signal = run.options.signal ? AbortSignal.any([run.options.signal, controller.signal]) : controller.signal;
    const t0 = performance.now();
    run.emit({ kind: 'target-start', name: t.name, action: 'advance', phase, state: report.to });
    try {
      const result = await run.with(t, (pg) => pg.advance({ migration: id, to: phase, verify: step.advance.verify, expect: step.expect }), {
        signal,
        onProgress: (progress) => run.emit({ kind: 'target-progress', name: t.name, progress }),
      });
      const entry = result.migrations.find((m) => m.id === id);
      report.to = entry?.state ?? report.to;
      if (entry && entry.ran.length) report.result = 'advanced';
      else if (report.result === 'not-started') report.result = 'up-to-date';
      return true;
    } catch (error) {
      const halted = haltCause !== null && error instanceof InterruptedError && !run.options.signal?.aborted;
      report.result = halted ? 'failed' : run.outcomeOf(error);
      report.error = halted
        ? { code: 'interrupted', message: `stopped after its current batch: ${haltCause} failed and --on-failure is halt` }
        : run.errorOf(error);
      if (!halted && report.result !== 'busy') stopOthers(t.name);
      return false;
    } finally {
      running.delete(t.name);
      report.seconds = Math.round((report.seconds + seconds(t0)) * 100) / 100;
      run.emit({
        kind: 'target-done',
        name: t.name,
        action: 'advance',
        result: report.result,
        state: report.to,
        seconds: report.seconds,
        ...(report.error ? { error: report.error } : {}),
      });
    }
  };

  const limit = pLimit(run.concurrency);
  let proceed = true;
  for (const [index, targets] of step.planned.entries()) {
    const names = targets.map((t) => t.name);
    const wave: FleetWave = { index, phase, targets: names, result: 'not-started' };
    step.waves.push(wave);
    if (!proceed || step.halted()) {
      run.emit({ kind: 'wave', phase, index, targets: names, status: 'not-started' });
      continue;
    }
    run.emit({ kind: 'wave', phase, index, targets: names, status: 'started' });
    const ok = await Promise.all(targets.map((t) => limit(() => one(t))));
    let succeeded = ok.every(Boolean);
    if (succeeded && step.advance.verifyCanary && phase === 'backfill' && index < step.planned.length - 1) {
      succeeded = await verifyWave(run, id, targets, reports);
      if (!succeeded)
        stopOthers(names.find((n) => reports.get(n)!.result !== 'advanced' && reports.get(n)!.result !== 'up-to-date') ?? names[0]!);
    }
    wave.result = succeeded ? 'succeeded' : 'failed';
    run.emit({ kind: 'wave', phase, index, targets: names, status: wave.result });
    if (!succeeded) anyFailed = true;
    // The next wave needs this one to have succeeded; under continue, that some target of it reached the phase.
    const reached = ok.some(Boolean);
    proceed = succeeded || (run.policy === 'continue' && reached);
  }
  return anyFailed || !proceed;
}

/** `--verify-canary`: verifies a backfill wave's targets; a mismatch refuses the wave. */
async function verifyWave(run: FleetRun, id: string, targets: FleetTarget[], reports: Map<string, FleetAdvanceTarget>): Promise<boolean> {
  const limit = pLimit(run.concurrency);
  const ok = await Promise.all(
    targets.map((t) =>
      limit(async () => {
        const report = reports.get(t.name)!;
        try {
          const results = await run.with(t, (pg) => pg.verify(id));
          const failed = results.filter((v) => !v.passed);
          if (!failed.length) return true;
          report.result = 'refused';
          report.error = {
            code: 'verification_failed',
            message: `${id}: the canary verification found ${failed.reduce((n, v) => n + Number(v.mismatches), 0)} mismatching row(s)`,
          };
        } catch (error) {
          report.result = run.outcomeOf(error);
          report.error = run.errorOf(error);
        }
        run.emit({
          kind: 'target-done',
          name: t.name,
          action: 'verify',
          result: report.result,
          state: report.to,
          seconds: report.seconds,
          error: report.error,
        });
        return false;
      }),
    ),
  );
  return ok.every(Boolean);
}
