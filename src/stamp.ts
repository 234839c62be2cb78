import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { describeRef, triggerState } from './catalog/introspect.js';
import { indexState } from './catalog/indexes.js';
import { queryRows } from './db/queryable.js';
import { InvalidArgumentError, PhaseOrderError, PlanRejectedError, StampRefusedError, type PlanProblem } from './errors.js';
import {
  backfillFinishedAt,
  backfillPhaseDoneAt,
  createProgress,
  finishProgress,
  finishRun,
  latestVerification,
  readProgress,
  recordPhaseDone,
  startRun,
  type PhaseRun,
  type RunIdentity,
} from './ledger/ledger.js';
import type { Logger } from './logger.js';
import { definitionOf, handlerFor } from './operations/index.js';
import { objectNames } from './operations/blocks/names.js';
import type { DdlStep, OperationSteps } from './plan/steps.js';
import { PHASES, type Migration, type Operation, type Phase } from './plan/model.js';

export interface StampOptions {
  /** Stamp exactly this phase; it must be the next one. */
  phase?: Phase;
  /** Stamp every phase from the next one up to and including this one. */
  through?: Phase;
}

export interface StampedPhase {
  phase: Phase;
  /** What the user should know: what was checked, what a later phase still does. */
  notes: string[];
}

export interface StampResult {
  id: string;
  from: Phase | 'pending';
  state: Phase;
  stamped: StampedPhase[];
  next: Phase | null;
  complete: boolean;
}

/** The phases a stamp records, in order; refuses anything but the next phase(s). */
export function phasesToStamp(migration: string, state: Phase | 'pending', options: StampOptions): Phase[] {
  if ((options.phase === undefined) === (options.through === undefined))
    throw new InvalidArgumentError('stamp needs exactly one of --phase <phase> or --through <phase>');
  const target = (options.phase ?? options.through) as Phase;
  const done = state === 'pending' ? -1 : PHASES.indexOf(state);
  if (PHASES.indexOf(target) <= done)
    throw new PhaseOrderError(migration, `${target} is already done (now: ${state}); a stamp records a phase that is not`);
  const next = PHASES[done + 1] as Phase;
  if (options.phase !== undefined && target !== next)
    throw new PhaseOrderError(
      migration,
      `cannot stamp ${target} before ${next} (now: ${state}): phases are stamped in order; stamp ${next} first, or use --through ${target}`,
    );
  return PHASES.slice(done + 1, PHASES.indexOf(target) + 1);
}

/**
 * Facts of a pending migration whose expand was done by hand: each operation's own inspection, of
 * the live catalog, or of it with the new object's name swapped out (the operation's
 * `createdByExpand` hook, src/operations/operation.ts).
 */
export async function factsForStamp(db: pg.Pool, migration: Migration): Promise<{ facts: unknown[]; notes: string[] }> {
  const facts: unknown[] = [];
  const notes: string[] = [];
  const problems: PlanProblem[] = [];
  const refusals: string[] = [];
  for (const [i, op] of migration.operations.entries()) {
    const path = `operations[${i}]`;
    const handler = handlerFor(op);
    const live = await handler.inspect(db, op, path);
    if (!live.problems.length) {
      facts.push(live.facts);
      continue;
    }
    const field = definitionOf(op.kind).createdByExpand;
    if (!field) {
      refusals.push(
        `${path} (${handler.describe(op)}): pgshift records its facts at expand, read from the catalog as it was before; ` +
          `${op.kind} cannot read them from the catalog as it is now (${live.problems.map((p) => p.message).join('; ')}). ` +
          'Undo the hand-made change and let `pgshift advance` run expand.',
      );
      continue;
    }
    const real = String((op as Record<string, unknown>)[field]);
    // Random, so no object of the user's has it.
    const probe = `pgshift_stamp_${randomBytes(13).toString('hex')}`;
    const twin = await handler.inspect(db, { ...op, [field]: probe } as Operation, path);
    if (twin.problems.length) {
      problems.push(...twin.problems.map((p) => ({ path: p.path, message: p.message.replaceAll(probe, real) })));
      continue;
    }
    facts.push(twin.facts);
    notes.push(`${path}: facts read from the catalog around ${real} (made by hand), which is checked to exist, not compared`);
  }
  if (problems.length) throw new PlanRejectedError(migration.id, problems);
  if (refusals.length) throw new StampRefusedError(migration.id, 'expand', refusals);
  return { facts, notes };
}

export interface StampContext {
  pool: pg.Pool;
  log: Logger;
  identity: RunIdentity;
  migration: Migration;
  checksum: string;
  facts: unknown[];
  steps: OperationSteps[];
}

/**
 * Statements whose own probe (an index's state, a step's skipIf) says they have not run. Only for
 * expand and the DDL after the backfill: there each probe holds once its phase is done, while in
 * dual-write and contract a later statement may remove what an earlier one's probe looks for.
 */
async function notDone(ctx: StampContext, steps: readonly DdlStep[]): Promise<string[]> {
  const id = ctx.migration.id;
  const problems: string[] = [];
  for (const step of steps) {
    let done: boolean;
    if (step.index) {
      const state = await indexState(ctx.pool, step.index.schema, step.index.name);
      done = step.index.action === 'create' ? state === 'valid' : state === 'missing';
    } else if (step.skipIf) {
      const [row] = await queryRows<{ done: boolean }>(ctx.pool, step.skipIf);
      done = row?.done === true;
    } else {
      problems.push(`${step.description}: pgshift cannot tell whether this was done (it has no probe for it); let pgshift run this phase`);
      continue;
    }
    if (!done) problems.push(`${step.description}: not done (\`pgshift plan ${id} --sql\` shows the statement: ${step.id})`);
  }
  return problems;
}

/** What the database must show for `phase` to count as done; every problem, or none. */
async function confirm(ctx: StampContext, phase: Phase): Promise<string[]> {
  const { migration, pool } = ctx;
  const completed = PHASES.slice(0, PHASES.indexOf(phase) + 1);
  const problems: string[] = [];
  for (const [i, op] of migration.operations.entries()) {
    problems.push(...(await handlerFor(op).drift(pool, op, ctx.facts[i], objectNames(migration.id, i), completed)));
  }
  if (phase === 'expand')
    problems.push(
      ...(await notDone(
        ctx,
        ctx.steps.flatMap((s) => s.expand).filter((x) => x.index || x.skipIf),
      )),
    );
  if (phase === 'backfill')
    problems.push(
      ...(await notDone(
        ctx,
        ctx.steps.flatMap((s) => s.afterBackfill),
      )),
    );
  const triggers = ctx.steps.flatMap((s) => s.triggers);
  if (phase === 'dual-write') {
    const missing: string[] = [];
    for (const t of triggers) {
      const state = await triggerState(pool, t.table, t.name);
      if (state !== 'enabled') missing.push(`${t.name} on ${describeRef(t.table)} (${state})`);
    }
    if (missing.length)
      problems.push(
        `contract checks pgshift's own dual-write trigger(s) by name and drops them, so a trigger made by hand under another name cannot stand in: ${missing.join(', ')}. ` +
          `Create them as \`pgshift plan ${migration.id} --phase dual-write --sql\` shows, or let \`pgshift advance\` run dual-write (one short transaction).`,
      );
  }
  if (phase === 'contract') {
    for (const t of triggers) {
      const state = await triggerState(pool, t.table, t.name);
      if (state !== 'missing')
        problems.push(
          `dual-write trigger ${t.name} is still on ${describeRef(t.table)} (${state}); contract drops it, and it may write to what contract removed`,
        );
    }
  }
  return [...new Set(problems)];
}

async function notesFor(ctx: StampContext, phase: Phase): Promise<string[]> {
  const id = ctx.migration.id;
  if (phase === 'backfill')
    return [
      'not verified by the stamp: contract still verifies every row (a fresh verification, or with --no-verify one recorded after this stamp) and refuses on a mismatch',
    ];
  if (phase !== 'contract') return [];
  const hasTasks = ctx.steps.some((s) => s.backfill.length > 0);
  const finished = hasTasks ? await backfillFinishedAt(ctx.pool, id) : await backfillPhaseDoneAt(ctx.pool, id);
  const evidence = await latestVerification(ctx.pool, id);
  return evidence?.passed && finished && evidence.startedAt >= finished
    ? [`the last verification (${evidence.finishedAt.toISOString()}, ${evidence.rowsChecked} rows) passed`]
    : [
        'contract was done outside pgshift: no passing verification was recorded after the backfill, so pgshift did not check the values before the old shape was dropped',
      ];
}

/** Backfill checkpoints marked finished (0 rows, settings.stamped), so contract's gate sees when the backfill ended. */
async function finishBackfillTasks(client: pg.ClientBase, ctx: StampContext): Promise<void> {
  for (const task of ctx.steps.flatMap((s) => s.backfill)) {
    await createProgress(client, ctx.migration.id, [{ task: `${task.id}#0`, rangeStart: null, rangeEnd: null }], null, { stamped: true });
    for (const row of await readProgress(client, ctx.migration.id, task.id)) {
      if (!row.finishedAt) await finishProgress(client, ctx.migration.id, row.task);
    }
  }
}

/**
 * Records `phases` done without running them: every phase is checked against the database first
 * (nothing is written if one fails), then each is recorded in its own transaction with a
 * `stamp` run, as a real run would record it.
 */
export async function stampPhases(
  ctx: StampContext,
  from: Phase | 'pending',
  phases: Phase[],
  factNotes: string[] = [],
): Promise<StampResult> {
  const id = ctx.migration.id;
  for (const phase of phases) {
    const problems = await confirm(ctx, phase);
    if (problems.length) throw new StampRefusedError(id, phase, problems);
  }
  const stamped: StampedPhase[] = [];
  for (const phase of phases) {
    const notes = [...(phase === 'expand' ? factNotes : []), ...(await notesFor(ctx, phase))];
    const client = await ctx.pool.connect();
    try {
      await client.query('BEGIN');
      const runId = await startRun(client, ctx.identity, { migrationId: id, phase, action: 'stamp', details: { stamped: true, notes } });
      if (phase === 'backfill') await finishBackfillTasks(client, ctx);
      await recordPhaseDone(client, ctx.migration, ctx.checksum, ctx.facts, phase);
      await finishRun(client, runId, 'succeeded');
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    ctx.log.info({ phase, notes }, `${phase}: stamped done (not run)`);
    stamped.push({ phase, notes });
  }
  const state = phases[phases.length - 1] as Phase;
  const next = PHASES[PHASES.indexOf(state) + 1] ?? null;
  return { id, from, state, stamped, next, complete: next === null };
}

/** Phases of the current life of a migration that were stamped, not run (runs before its last rollback do not count). */
export function stampedPhases(runs: readonly PhaseRun[]): Phase[] {
  const lastRollback = Math.max(0, ...runs.filter((r) => r.action === 'rollback' && r.status === 'succeeded').map((r) => r.id));
  return runs.filter((r) => r.action === 'stamp' && r.status === 'succeeded' && r.id > lastRollback).map((r) => r.phase as Phase);
}
