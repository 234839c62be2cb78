import type { PlanProblem } from '../../errors.js';

/**
 * An index name as an entry of `columns()`, so that migrations creating or dropping the same
 * index run in order (drop the old definition, then create the new one under its name) instead
 * of the later one being rejected because the name is still taken. Index names share one
 * namespace per schema, which the pseudo column `(index)` of a "table" named after the index
 * stands for.
 */
export function indexNameClaim(schema: string, name: string): { schema: string; table: string; column: string } {
  return { schema, table: name, column: '(index)' };
}

/** What indexNameProblems reads of an operation (a structural type: the plan model is built from the operations). */
type IndexNaming = { kind: 'createIndex' | 'dropIndex' | 'addUnique'; schema: string; name: string } | { kind: string };

/** Within one migration, an index name may be created (by createIndex or addUnique) or dropped once. */
export function indexNameProblems(migration: { operations: readonly IndexNaming[] }): PlanProblem[] {
  const problems: PlanProblem[] = [];
  const seen = new Map<string, number>();
  migration.operations.forEach((op, i) => {
    if (op.kind !== 'createIndex' && op.kind !== 'dropIndex' && op.kind !== 'addUnique') return;
    if (!('name' in op)) return;
    const key = `${op.schema}.${op.name}`;
    const earlier = seen.get(key);
    if (earlier === undefined) seen.set(key, i);
    else
      problems.push({
        path: `operations[${i}].name`,
        message: `index ${op.name} is already ${migration.operations[earlier]!.kind === 'dropIndex' ? 'dropped' : 'created'} by operations[${earlier}] (use a second migration)`,
      });
  });
  return problems;
}
