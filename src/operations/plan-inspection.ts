import type { PlanProblem } from '../errors.js';
import { inRolledBackTransaction } from '../db/rolled-back.js';
import type { Queryable } from '../db/queryable.js';
import { describeRef } from '../catalog/introspect.js';
import { literal, qualified } from '../sql/ident.js';
import type { Migration, Operation } from '../plan/model.js';
import { tablesBuiltOn } from './composition.js';
import { handlerFor, stepsFor } from './index.js';
import type { OperationSteps } from './types.js';

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
  const built = tablesBuiltOn(migration.operations);
  const run = async (c: Queryable) => {
    const problems: PlanProblem[] = [];
    const facts: unknown[] = [];
    for (const [i, op] of migration.operations.entries()) {
      const inspection = await handlerFor(op).inspect(c, op, `operations[${i}]`);
      problems.push(...inspection.problems);
      facts.push(inspection.facts);
      if (built.has(i) && !inspection.problems.length) {
        for (const step of stepsFor(migration.id, op, i, inspection.facts).expand) await c.query(step.sql);
      }
    }
    return { facts, problems };
  };
  if (!built.size) return run(db);
  return inRolledBackTransaction(db, async (c) => {
    await c.query(`SET LOCAL lock_timeout = ${TRIAL_CREATE_LOCK_TIMEOUT_MS}`);
    return run(c);
  });
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
