import type { PhaseContext } from '../../phases/context.js';
import {
  ExpectationFailedError,
  MigrationNotFoundError,
  PlanChangedError,
  PlanRejectedError,
  type ExpectationMismatch,
} from '../errors.js';
import type { Expectation } from '../expect.js';
import { readMigrations, type MigrationRecord } from '../ledger/ledger.js';
import { crossOperationProblems, stepsFor } from '../operations/index.js';
import { createdTablesFirst, inspectPlan } from '../operations/blocks/plan-inspection.js';
import type { OperationSteps } from '../plan/steps.js';
import { checksumOf } from '../plan/checksum.js';
import { loadMigrations, type LoadedMigration } from '../plan/load.js';
import type { Migration, MigrationState } from '../plan/model.js';
import { parseMigration } from '../plan/validate.js';
import { loadParser } from '../sql/parser.js';
import type { Session } from './session.js';

/** A migration as the use cases see it: its plan (file, API or ledger) and its ledger record. */
export interface Target {
  migration: Migration;
  checksum: string;
  source: string;
  record: MigrationRecord | null;
}

async function loadPlans(session: Session): Promise<LoadedMigration[]> {
  await loadParser();
  if (session.migrations) {
    return session.migrations
      .map((m) => parseMigration(m, `migration ${String((m as { id?: unknown }).id)}`))
      .map((migration) => ({ migration, checksum: checksumOf(migration), source: 'api' }))
      .sort((a, b) => (a.migration.id < b.migration.id ? -1 : 1));
  }
  return loadMigrations(session.dir);
}

/** Plans on disk merged with migrations only the ledger still knows, in order of id; `only` must exist. */
export async function loadTargets(session: Session, only?: string): Promise<Target[]> {
  const [loaded, records] = await Promise.all([loadPlans(session), readMigrations(session.db())]);
  const byId = new Map<string, Target>();
  for (const l of loaded) byId.set(l.migration.id, { ...l, record: records.get(l.migration.id) ?? null });
  for (const r of records.values()) {
    if (!byId.has(r.id)) byId.set(r.id, { migration: r.plan, checksum: r.checksum, source: 'ledger', record: r });
  }
  const all = [...byId.values()].sort((a, b) => (a.migration.id < b.migration.id ? -1 : 1));
  if (only === undefined) return all;
  const found = all.find((t) => t.migration.id === only);
  if (!found)
    throw new MigrationNotFoundError(
      only,
      all.map((t) => t.migration.id),
    );
  return [found];
}

/** The one target named `id` (MigrationNotFoundError otherwise). */
export async function loadTarget(session: Session, id: string): Promise<Target> {
  const [t] = await loadTargets(session, id);
  if (!t) throw new MigrationNotFoundError(id, []);
  return t;
}

export function stateOf(t: Target): MigrationState {
  return t.record?.state ?? 'pending';
}

/** A started migration whose file changed since: PlanChangedError (exit 2). */
export function checkUnchanged(t: Target): void {
  if (t.record && t.source !== 'ledger' && t.record.checksum !== t.checksum)
    throw new PlanChangedError(t.migration.id, t.record.checksum, t.checksum, t.record.state);
}

/** Facts for a migration: recorded at its expand, or read live (and every problem reported). */
export async function factsOf(session: Session, t: Target): Promise<unknown[]> {
  if (t.record) return t.record.facts;
  const { facts, problems } = await inspectPlan(session.db(), t.migration);
  if (!problems.length) problems.push(...crossOperationProblems(t.migration.operations, facts));
  if (problems.length) throw new PlanRejectedError(t.migration.id, problems);
  return facts;
}

/** The steps of every operation, always from the ledger's copy of a started plan. */
export function stepsOf(t: Target, facts: unknown[]): OperationSteps[] {
  const plan = t.record?.plan ?? t.migration;
  return createdTablesFirst(
    plan.operations,
    plan.operations.map((op, i) => stepsFor(plan.id, op, i, facts[i])),
  );
}

/** The pipeline's assumption about where each named migration stands: ExpectationFailedError unless it holds. */
export function checkExpectations(all: Target[], expected: readonly Expectation[]): void {
  const mismatches: ExpectationMismatch[] = [];
  for (const e of expected) {
    const t = all.find((x) => x.migration.id === e.migration);
    if (!t)
      throw new MigrationNotFoundError(
        e.migration,
        all.map((x) => x.migration.id),
      );
    const actual = stateOf(t);
    if (actual !== e.state) mismatches.push({ migration: e.migration, expected: e.state, actual });
  }
  if (mismatches.length) throw new ExpectationFailedError(mismatches);
}

/** What the phase executors get for one migration. `signal`: the session's, or the lock's while held. */
export function phaseContext(
  session: Session,
  t: Target,
  facts: unknown[],
  steps: OperationSteps[],
  signal: AbortSignal | undefined,
): PhaseContext {
  return {
    pool: session.db(),
    log: session.log.child({ migration: t.migration.id }),
    identity: session.identity,
    lockPolicy: session.lockPolicy,
    phaseStatementTimeoutMs: session.phaseStatementTimeoutMs,
    backfill: session.backfill,
    verify: session.verify,
    migration: t.record?.plan ?? t.migration,
    checksum: t.record?.checksum ?? t.checksum,
    facts,
    steps,
    onProgress: session.onProgress,
    signal,
  };
}
