import pLimit from 'p-limit';
import {
  ExitCode,
  InvalidArgumentError,
  MigrationNotFoundError,
  WaitTimeoutError,
  WaitUnreachableError,
  type ExitCode as ExitCodeT,
} from '../errors.js';
import type { BackfillControl, Verification } from '../ledger/ledger.js';
import type { MigrationStatus, Pgshift, TuneSettings } from '../orchestrator.js';
import type { MigrationState } from '../plan/model.js';
import { isWaitTarget, WAIT_TARGETS, type WaitTarget } from '../wait.js';
import { countBy, exitCodeOfResults, FleetRun, rank, seconds, type FleetOptions, type FleetTargetError } from './context.js';
import type { FleetTarget } from './targets.js';

export interface FleetStatusTarget {
  name: string;
  url: string;
  migrations: MigrationStatus[];
  error?: FleetTargetError;
}

export interface FleetStatusReport {
  ok: boolean;
  exitCode: ExitCodeT;
  targets: FleetStatusTarget[];
  summary: { byState: Record<string, number>; unreachable: number; failed: number };
}

/** Where every target of the fleet (or of the shard) stands, read from each one's ledger; summarised by `<migration>@<state>`. */
export async function fleetStatus(options: FleetOptions, migration?: string): Promise<FleetStatusReport> {
  const run = new FleetRun(options);
  await checkMigration(run, migration);
  const reads = await run.statuses(run.acting, migration);
  const targets = run.acting.map((t): FleetStatusTarget => {
    const r = reads.get(t.name)!;
    return Array.isArray(r)
      ? { name: t.name, url: run.url(t), migrations: r }
      : { name: t.name, url: run.url(t), migrations: [], error: run.errorOf(r.error) };
  });
  const outcomes = run.acting.map((t) => {
    const r = reads.get(t.name)!;
    return Array.isArray(r) ? 'ok' : run.outcomeOf(r.error);
  });
  const exitCode = exitCodeOfResults(outcomes);
  return {
    ok: exitCode === ExitCode.ok,
    exitCode,
    targets,
    summary: {
      byState: countBy(targets.flatMap((t) => t.migrations.map((m) => `${m.id}@${m.state}`)).sort()),
      unreachable: outcomes.filter((o) => o === 'unreachable').length,
      failed: outcomes.filter((o) => o !== 'ok' && o !== 'unreachable').length,
    },
  };
}

async function checkMigration(run: FleetRun, migration: string | undefined): Promise<void> {
  if (migration === undefined) return;
  const plans = await run.migrations();
  if (!plans.some((p) => p.id === migration))
    throw new MigrationNotFoundError(
      migration,
      plans.map((p) => p.id),
    );
}

/** The migration a command without one is about: the first (by id) that some reachable target has not taken to `goal`. */
async function resolveMigration(run: FleetRun, migration: string | undefined, goal: MigrationState | 'verified'): Promise<string> {
  await checkMigration(run, migration);
  if (migration) return migration;
  const plans = await run.migrations();
  if (!plans.length) throw new InvalidArgumentError('no migrations found: pass the plans directory with --dir');
  const reads = [...(await run.statuses(run.acting)).values()].filter((r): r is MigrationStatus[] => Array.isArray(r));
  const want = goal === 'verified' ? rank('backfill') : rank(goal);
  const open = plans.find((p) => reads.some((r) => rank(r.find((s) => s.id === p.id)?.state ?? 'pending') < want));
  return (open ?? plans[plans.length - 1]!).id;
}

export type FleetWaitResult = 'reached' | 'failed' | 'timeout' | 'refused' | 'unreachable';

export interface FleetWaitReport {
  ok: boolean;
  exitCode: ExitCodeT;
  migration: string;
  target: WaitTarget;
  seconds: number;
  targets: {
    name: string;
    url: string;
    result: FleetWaitResult;
    state: MigrationState | null;
    seconds: number;
    error?: FleetTargetError;
  }[];
  summary: Partial<Record<FleetWaitResult, number>>;
}

/**
 * Blocks until every target (all of them unless `shard` is given: this is how sharded jobs join)
 * has `migration` at `target`, polling each ledger. A failed run, a rollback or the timeout on any
 * target ends its wait; the others go on waiting until they are there or the timeout passes.
 */
export async function fleetWait(
  options: FleetOptions,
  wait: { migration?: string; target: WaitTarget; timeoutSeconds?: number; pollMs?: number },
): Promise<FleetWaitReport> {
  if (!isWaitTarget(wait.target))
    throw new InvalidArgumentError(`cannot wait for ${JSON.stringify(wait.target)}: use ${WAIT_TARGETS.join(', ')}`);
  const run = new FleetRun(options);
  const migration = await resolveMigration(run, wait.migration, wait.target);
  const t0 = performance.now();
  const targets = await Promise.all(
    run.acting.map(async (t) => {
      const start = performance.now();
      run.emit({ kind: 'target-start', name: t.name, action: 'wait', phase: null, state: null });
      let out: FleetWaitReport['targets'][number];
      try {
        const reached = await run.with(t, (pg) =>
          pg.waitFor(migration, wait.target, { timeoutSeconds: wait.timeoutSeconds, pollMs: wait.pollMs }),
        );
        out = { name: t.name, url: run.url(t), result: 'reached', state: reached.state, seconds: reached.seconds };
      } catch (error) {
        const result: FleetWaitResult =
          error instanceof WaitTimeoutError
            ? 'timeout'
            : error instanceof WaitUnreachableError
              ? 'refused'
              : run.outcomeOf(error) === 'unreachable'
                ? 'unreachable'
                : 'failed';
        const state = (error as { state?: unknown }).state;
        out = {
          name: t.name,
          url: run.url(t),
          result,
          state: typeof state === 'string' ? (state as MigrationState) : null,
          seconds: seconds(start),
          error: run.errorOf(error),
        };
      }
      run.emit({
        kind: 'target-done',
        name: t.name,
        action: 'wait',
        result: out.result,
        state: out.state,
        seconds: out.seconds,
        ...(out.error ? { error: out.error } : {}),
      });
      return out;
    }),
  );
  const exitCode = exitCodeOfResults(targets.map((t) => t.result));
  return {
    ok: exitCode === ExitCode.ok,
    exitCode,
    migration,
    target: wait.target,
    seconds: seconds(t0),
    targets,
    summary: countBy(targets.map((t) => t.result)),
  };
}

export type FleetEachResult = 'ok' | 'up-to-date' | 'failed' | 'busy' | 'unreachable' | 'refused' | 'not-started';

export interface FleetEachTarget<T> {
  name: string;
  url: string;
  result: FleetEachResult;
  seconds: number;
  value?: T;
  error?: FleetTargetError;
}

export interface FleetEachReport<T> {
  ok: boolean;
  exitCode: ExitCodeT;
  migration: string | null;
  targets: FleetEachTarget<T>[];
  summary: Partial<Record<FleetEachResult, number>>;
}

/** Runs `body` on each target of the run, `concurrency` at a time; under halt, nothing new starts after a failure. */
async function eachTarget<T>(
  run: FleetRun,
  action: string,
  migration: string | null,
  body: (pg: Pgshift, target: FleetTarget) => Promise<{ value: T; result?: FleetEachResult }>,
  policy = run.policy,
): Promise<FleetEachReport<T>> {
  const limit = pLimit(run.concurrency);
  let halted = false;
  const targets = await Promise.all(
    run.acting.map((t) =>
      limit(async (): Promise<FleetEachTarget<T>> => {
        const base = { name: t.name, url: run.url(t) };
        if (halted) return { ...base, result: 'not-started', seconds: 0 };
        const t0 = performance.now();
        run.emit({ kind: 'target-start', name: t.name, action, phase: null, state: null });
        let out: FleetEachTarget<T>;
        try {
          const { value, result } = await run.with(t, (pg) => body(pg, t));
          out = { ...base, result: result ?? 'ok', seconds: seconds(t0), value };
        } catch (error) {
          out = { ...base, result: run.outcomeOf(error), seconds: seconds(t0), error: run.errorOf(error) };
          if (policy === 'halt' && out.result !== 'busy') halted = true;
        }
        run.emit({
          kind: 'target-done',
          name: t.name,
          action,
          result: out.result,
          state: null,
          seconds: out.seconds,
          ...(out.error ? { error: out.error } : {}),
        });
        return out;
      }),
    ),
  );
  const exitCode = exitCodeOfResults(
    targets.map((t) => t.result),
    ['failed', 'unreachable', 'not-started'],
  );
  return { ok: exitCode === ExitCode.ok, exitCode, migration, targets, summary: countBy(targets.map((t) => t.result)) };
}

/** Verifies the migration (or every one whose backfill finished) on each target; a mismatch is `refused` (exit 3). */
export async function fleetVerify(options: FleetOptions, migration?: string): Promise<FleetEachReport<Verification[]>> {
  const run = new FleetRun(options);
  await checkMigration(run, migration);
  return eachTarget(run, 'verify', migration ?? null, async (pg) => {
    const value = await pg.verify(migration);
    return { value, result: value.every((v) => v.passed) ? 'ok' : 'refused' };
  });
}

/** Rolls the migration back on each target that has not contracted (refused on those that have). */
export async function fleetRollback(
  options: FleetOptions,
  migration: string,
): Promise<FleetEachReport<{ from: MigrationState; statements: number }>> {
  const run = new FleetRun(options);
  await checkMigration(run, migration);
  return eachTarget(run, 'rollback', migration, async (pg) => {
    const r = await pg.rollback(migration);
    return { value: { from: r.from, statements: r.statements }, result: r.from === 'pending' ? 'up-to-date' : 'ok' };
  });
}

export type FleetControlAction =
  { action: 'tune'; settings: { [K in keyof TuneSettings]: TuneSettings[K] | null } } | { action: 'pause' } | { action: 'resume' };

/** `tune`, `pause` or `resume` on each target's backfill of the migration (default: the one being rolled out). */
export async function fleetControl(
  options: FleetOptions,
  control: FleetControlAction,
  migration?: string,
): Promise<FleetEachReport<BackfillControl>> {
  if (control.action === 'tune' && !Object.values(control.settings).some((v) => v !== undefined))
    throw new InvalidArgumentError('nothing to change: give at least one setting');
  const run = new FleetRun(options);
  const id = await resolveMigration(run, migration, 'contract');
  // Every target is told, whatever happens on another: a pause must reach all of them.
  return eachTarget(
    run,
    control.action,
    id,
    async (pg) => ({
      value:
        control.action === 'tune'
          ? await pg.tune(id, control.settings)
          : control.action === 'pause'
            ? await pg.pause(id)
            : await pg.resume(id),
    }),
    'continue',
  );
}
