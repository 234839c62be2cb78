import type { PlanProblem } from '../../errors.js';
import { inRolledBackTransaction } from '../../db/rolled-back.js';
import type { Queryable } from '../../db/queryable.js';
import { describeRef } from '../../catalog/introspect.js';
import { literal, qualified } from '../../sql/ident.js';
import type { Migration, Operation } from '../../plan/model.js';
import { scopeOf, tablesBuiltOn } from './composition.js';
import { handlerFor, stepsFor } from '../index.js';
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
  const inspect = async (c: Queryable, i: number) => {
    const op = ops[i]!;
    const inspection = await handlerFor(op).inspect(c, op, `operations[${i}]`);
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
        if (built.has(i) && !inspection.problems.length)
          for (const step of stepsFor(migration.id, ops[i]!, i, inspection.facts).expand) await c.query(step.sql);
      }
    });
  }
  return { facts, problems: problems.flat() };
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
    const text = typeof first === 'string' ? first : (first as { text?: string }).text ?? '';
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
 * A table created by the plan that later operations build on is created in its own transaction,
 * ahead of the phase's non-transactional steps (a CREATE INDEX CONCURRENTLY on it would otherwise
 * run before the phase transaction that creates it). A rerun skips it once the table is there.
 */
export function createdTablesFirst(operations: readonly Operation[], steps: OperationSteps[]): OperationSteps[] {
  const built = tablesBuiltOn(operations);
  return steps.map((s, i) => {
    const op = operations[i]!;
    if (!built.has(i) || op.kind !== 'createTable') return s;
    const name = literal(qualified(op.schema, op.table));
    return {
      ...s,
      expand: s.expand.map((step) => ({
        ...step,
        tx: 'own' as const,
        description: `${step.description}; committed first, as later operations build on ${describeRef({ schema: op.schema, name: op.table })}`,
        skipIf: `SELECT pg_catalog.to_regclass(${name}) IS NOT NULL AS done`,
      })),
    };
  });
}
