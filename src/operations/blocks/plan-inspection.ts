import { randomBytes } from 'node:crypto';
import type { PlanProblem } from '../../errors.js';
import { inRolledBackTransaction } from '../../db/rolled-back.js';
import type { Queryable } from '../../db/queryable.js';
import type { Migration, Operation } from '../../plan/model.js';
import { scopeOf, tablesBuiltOn } from './composition.js';
import { definitionOf, handlerFor, stepsFor } from '../index.js';
import type { Inspection } from '../operation.js';
import type { OperationSteps } from '../../plan/steps.js';

/** How long the trial CREATE TABLE waits for a table its foreign keys reference. */
const TRIAL_CREATE_LOCK_TIMEOUT_MS = 1000;

/**
 * Inspects every operation of a plan in order, each against the catalog as the operations before
 * it leave it. Only tables the plan creates change what a later operation sees (the composition
 * table refuses the other stackings), so when a later operation builds on one, the inspection
 * runs in a transaction that is rolled back and each such createTable's expand runs there first:
 * a new table, which locks nothing else in use (but the tables its foreign keys reference, briefly).
 */
export async function inspectPlan(db: Queryable, migration: Migration): Promise<{ facts: unknown[]; problems: PlanProblem[] }> {
  const ops = migration.operations;
  const built = tablesBuiltOn(ops);
  const onBuilt = new Set(ops.flatMap((_, i) => (builtTableOf(ops, i, built) === null ? [] : [i])));
  const problems: PlanProblem[][] = ops.map(() => []);
  const facts: unknown[] = ops.map(() => null);
  // Created by an earlier expand of this migration that failed after committing it (expandFirst).
  const leftOver = new Set<number>();
  for (const [i, op] of ops.entries()) {
    const left = definitionOf(op.kind).leftByEarlierExpand as ((db: Queryable, op: Operation, id: string) => Promise<boolean>) | undefined;
    if (left && (await left(db, op, migration.id))) leftOver.add(i);
  }
  const inspect = async (c: Queryable, i: number) => {
    const op = ops[i]!;
    const inspection = leftOver.has(i)
      ? await inspectAround(c, op, `operations[${i}]`)
      : await handlerFor(op).inspect(c, op, `operations[${i}]`);
    problems[i] = [...inspection.problems];
    facts[i] = inspection.facts;
    return inspection;
  };
  // Everything else is inspected as before, on the pool: some inspections catch a failed query,
  // which inside one shared transaction would abort it for all that follow.
  for (const i of ops.keys()) if (!onBuilt.has(i) && !built.has(i)) await inspect(db, i);
  if (built.size) {
    await inRolledBackTransaction(db, async (c) => {
      await c.query(`SET LOCAL lock_timeout = ${TRIAL_CREATE_LOCK_TIMEOUT_MS}`);
      for (const i of ops.keys()) {
        if (!onBuilt.has(i) && !built.has(i)) continue;
        const inspection = await inspect(savepointEach(c), i);
        if (built.has(i) && !leftOver.has(i) && !inspection.problems.length)
          for (const step of stepsFor(migration.id, ops[i]!, i, inspection.facts).expand) await c.query(step.sql);
      }
    });
  }
  return { facts, problems: problems.flat() };
}

/**
 * An operation inspected with the object its expand creates renamed to one no object has (as
 * stamp does): its facts describe the catalog around that object, which is there already.
 */
async function inspectAround(c: Queryable, op: Operation, path: string): Promise<Inspection<unknown>> {
  const field = definitionOf(op.kind).createdByExpand as string;
  const real = String((op as Record<string, unknown>)[field]);
  const probe = `pgshift_rerun_${randomBytes(13).toString('hex')}`;
  const twin = await handlerFor(op).inspect(c, { ...op, [field]: probe } as Operation, path);
  return { facts: twin.facts, problems: twin.problems.map((p) => ({ path: p.path, message: p.message.replaceAll(probe, real) })) };
}

/**
 * The connection as an inspection inside the trial transaction sees it: each query under its own
 * savepoint, so an inspection that expects a query to fail (a probe that always raises) does not
 * abort the transaction for the ones after it. Transaction control passes through untouched.
 */
function savepointEach(c: Queryable): Queryable {
  let n = 0;
  const query = async (...args: unknown[]) => {
    const first = args[0];
    const text = typeof first === 'string' ? first : ((first as { text?: string }).text ?? '');
    if (/^\s*(SAVEPOINT|RELEASE|ROLLBACK|BEGIN|COMMIT)\b/i.test(text)) return (c.query as (...a: unknown[]) => Promise<unknown>)(...args);
    const sp = `pgshift_inspect_${++n}`;
    await c.query(`SAVEPOINT ${sp}`);
    try {
      const result = await (c.query as (...a: unknown[]) => Promise<unknown>)(...args);
      await c.query(`RELEASE SAVEPOINT ${sp}`);
      return result;
    } catch (error) {
      await c.query(`ROLLBACK TO SAVEPOINT ${sp}`);
      throw error;
    }
  };
  return { query } as unknown as Queryable;
}

/** The index of the createTable an operation builds on, or null. */
function builtTableOf(ops: readonly Operation[], i: number, built: Set<number>): number | null {
  const scope = scopeOf(ops[i]!);
  if (!scope) return null;
  for (const j of built) if (j < i && scopeOf(ops[j]!)!.table === scope.table) return j;
  return null;
}

/**
 * Steps of a plan whose later operations build on a table an earlier one creates: that operation's
 * expand is committed first (its `expandFirst` hook), so the later ones see the table.
 */
export function createdTablesFirst(operations: readonly Operation[], steps: OperationSteps[]): OperationSteps[] {
  const built = tablesBuiltOn(operations);
  return steps.map((s, i) => {
    const op = operations[i]!;
    const first = definitionOf(op.kind).expandFirst as ((op: Operation, steps: OperationSteps) => OperationSteps) | undefined;
    return built.has(i) && first ? first(op, s) : s;
  });
}
