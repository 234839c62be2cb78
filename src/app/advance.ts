import { runPhase, type PhaseOutcome } from '../../phases/run-phase.js';
import { MigrationNotFoundError } from '../errors.js';
import { parseExpectation, type Expectation } from '../expect.js';
import type { OperationSteps } from '../plan/steps.js';
import type { MigrationState, Phase } from '../plan/model.js';
import { renderPlan, type RenderedPhase } from '../render-plan.js';
import { checkDrift } from './drift.js';
import { withOrchestratorLock, type LockWait } from './lock.js';
import { nextPhase, phasesBetween, waitRefusal, waitsOf } from './order.js';
import type { Session } from './session.js';
import { checkExpectations, checkUnchanged, factsOf, loadTargets, phaseContext, stateOf, stepsOf, type Target } from './targets.js';

export type { PhaseOutcome };

export interface AdvanceOptions {
  /** Only this migration. */
  migration?: string;
  /** Run phases up to and including this one (default: just the next one). */
  to?: Phase;
  /** Validate and show what would run; change nothing. */
  dryRun?: boolean;
  /** Before contract, run a fresh verification (default true). */
  verify?: boolean;
  /**
   * Refuse (ExpectationFailedError, exit 3), changing nothing, unless each named migration is in
   * that state before this advance: `<migration>@<state>` or `{ migration, state }`.
   */
  expect?: readonly (string | Expectation)[];
  /**
   * When another orchestrator holds the lock, wait for it (polling, with `onEvent` told of each
   * try) and then proceed, instead of OrchestratorBusyError. With `to`, replicas that race at
   * start-up each return once the migration is there, and only the first runs anything.
   */
  wait?: LockWait;
}

export interface AdvanceEntry {
  id: string;
  from: MigrationState;
  state: MigrationState;
  ran: PhaseOutcome[];
  /** With dryRun: the phases that would run, with their SQL. */
  wouldRun?: RenderedPhase[];
  /** Not advanced: an earlier unfinished migration touches the same columns. */
  waitingFor?: { migration: string; columns: string[] };
  next: Phase | null;
  complete: boolean;
}

export interface AdvanceResult {
  dryRun: boolean;
  migrations: AdvanceEntry[];
}

interface Work {
  t: Target;
  phases: Phase[];
  facts: unknown[];
  steps: OperationSteps[];
}

/** Everything checked (plan, checksum, expectations, order, catalog, drift) before anything changes. */
async function prepare(
  session: Session,
  options: AdvanceOptions,
  expected: Expectation[],
): Promise<{ work: Work[]; waiting: AdvanceEntry[] }> {
  const all = await loadTargets(session);
  if (options.migration && !all.some((t) => t.migration.id === options.migration))
    throw new MigrationNotFoundError(
      options.migration,
      all.map((t) => t.migration.id),
    );
  checkExpectations(all, expected);
  const waits = waitsOf(all);
  const work: Work[] = [];
  const waiting: AdvanceEntry[] = [];
  for (const t of all) {
    if (options.migration ? t.migration.id !== options.migration : t.source === 'ledger') continue;
    checkUnchanged(t);
    const phases = phasesBetween(stateOf(t), options.to);
    if (!phases.length) continue;
    const wait = waits.get(t.migration.id);
    if (wait) {
      if (options.migration) throw waitRefusal(t.migration.id, wait);
      const state = stateOf(t);
      waiting.push({ id: t.migration.id, from: state, state, ran: [], next: nextPhase(state), complete: false, waitingFor: wait });
      continue;
    }
    const facts = await factsOf(session, t);
    await checkDrift(session.db(), t);
    work.push({ t, phases, facts, steps: stepsOf(t, facts) });
  }
  return { work, waiting };
}

function byId(entries: AdvanceEntry[]): AdvanceEntry[] {
  return entries.sort((a, b) => (a.id < b.id ? -1 : 1));
}

/**
 * Runs the next phase of each unfinished migration (or of one), or every phase up to `to`, under
 * the orchestrator lock; with `dryRun`, renders what would run without the lock.
 */
export async function advance(session: Session, options: AdvanceOptions = {}): Promise<AdvanceResult> {
  const expected = (options.expect ?? []).map(parseExpectation);
  if (options.dryRun) {
    const { work, waiting } = await prepare(session, options, expected);
    const entries = work.map(({ t, phases, steps }): AdvanceEntry => {
      const from = stateOf(t);
      const wouldRun = renderPlan(steps).filter((p) => (phases as string[]).includes(p.phase));
      return {
        id: t.migration.id,
        from,
        state: from,
        ran: [],
        wouldRun,
        next: nextPhase(phases[phases.length - 1] as Phase),
        complete: false,
      };
    });
    return { dryRun: true, migrations: byId([...entries, ...waiting]) };
  }
  return withOrchestratorLock(
    session,
    async ({ createLedger, signal }) => {
      const { work, waiting } = await prepare(session, options, expected);
      if (work.length) await createLedger();
      const entries: AdvanceEntry[] = [];
      for (const { t, phases, facts, steps } of work) {
        const from = stateOf(t);
        const entry: AdvanceEntry = { id: t.migration.id, from, state: from, ran: [], next: nextPhase(from), complete: false };
        entries.push(entry);
        const ctx = phaseContext(session, t, facts, steps, signal);
        for (const phase of phases) {
          entry.ran.push(await runPhase(ctx, phase, { verify: options.verify ?? true }));
          entry.state = phase;
          entry.next = nextPhase(phase);
          entry.complete = entry.next === null;
        }
      }
      return { dryRun: false, migrations: byId([...entries, ...waiting]) };
    },
    options.wait,
  );
}
