import { DriftError } from '../errors.js';
import type { Queryable } from '../db/queryable.js';
import { handlerFor } from '../operations/index.js';
import { objectNames } from '../operations/blocks/names.js';
import { PHASES } from '../plan/model.js';
import type { Target } from './targets.js';

/** A started migration whose objects no longer match what its completed phases left: DriftError (exit 3). */
export async function checkDrift(db: Queryable, t: Target): Promise<void> {
  if (!t.record) return;
  const completed = PHASES.slice(0, PHASES.indexOf(t.record.state) + 1);
  const problems: string[] = [];
  for (const [i, op] of t.record.plan.operations.entries()) {
    problems.push(...(await handlerFor(op).drift(db, op, t.record.facts[i], objectNames(t.record.id, i), completed)));
  }
  if (problems.length) throw new DriftError(t.migration.id, problems);
}
