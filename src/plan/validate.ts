import type { z } from 'zod';
import { PlanInvalidError, type PlanProblem } from '../errors.js';
import { migrationSchema, type Migration } from './model.js';
import { indexNameProblems } from '../operations/blocks/index-names.js';
import { compositionProblems } from '../operations/blocks/composition.js';

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

function problemsOf(error: z.ZodError): PlanProblem[] {
  const problems: PlanProblem[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push({ path: formatPath([...issue.path, key]), message: 'unknown key' });
    } else {
      problems.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  return problems;
}

/** Semantic checks the schema cannot express; they need a well-formed plan, so they run after it passes. */
function crossChecks(migration: Migration): PlanProblem[] {
  const problems: PlanProblem[] = [];
  const targets = new Map<string, number>();
  const sources = new Map<string, number>();
  migration.operations.forEach((op, i) => {
    if (op.kind !== 'renameColumn') return;
    const table = `${op.schema}.${op.table}`;
    if (op.from === op.to) problems.push({ path: `operations[${i}].to`, message: 'is the same as "from"' });
    for (const [map, name, field] of [
      [targets, op.to, 'to'],
      [sources, op.from, 'from'],
    ] as const) {
      const key = `${table}.${name}`;
      const earlier = map.get(key);
      if (earlier !== undefined)
        problems.push({ path: `operations[${i}].${field}`, message: `column ${name} is already renamed by operations[${earlier}]` });
      else map.set(key, i);
    }
  });
  const constraints = new Map<string, number>();
  migration.operations.forEach((op, i) => {
    if (op.kind !== 'addCheck' && op.kind !== 'addForeignKey') return;
    const key = JSON.stringify([op.schema, op.table, op.name]);
    const earlier = constraints.get(key);
    if (earlier !== undefined)
      problems.push({ path: `operations[${i}].name`, message: `constraint ${op.name} is already added by operations[${earlier}]` });
    else constraints.set(key, i);
  });
  return problems;
}

/** A value `pgshift new` leaves for the user to fill, such as `<to>`. */
export const PLACEHOLDER = /^<[A-Za-z][\w ]*>$/;

/** Placeholders left in operations: most are valid identifiers, so the schema alone would let them through. */
function placeholderProblems(value: unknown, path: PropertyKey[]): PlanProblem[] {
  if (typeof value === 'string')
    return PLACEHOLDER.test(value)
      ? [{ path: formatPath(path), message: `${value} is a placeholder left by pgshift new: fill it in` }]
      : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => placeholderProblems(v, [...path, i]));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => placeholderProblems(v, [...path, k]));
  return [];
}

/** Parses a plan from untrusted input, reporting every problem at once. */
export function parseMigration(input: unknown, source: string): Migration {
  const placeholders =
    input && typeof input === 'object' ? placeholderProblems((input as { operations?: unknown }).operations, ['operations']) : [];
  const result = migrationSchema.safeParse(input);
  if (!result.success) throw new PlanInvalidError(source, [...placeholders, ...problemsOf(result.error)]);
  const earlier = [...placeholders, ...crossChecks(result.data), ...indexNameProblems(result.data)];
  // An operation already reported (a rename clashing with another) is not reported again for the pair.
  const reported = new Set(earlier.map((p) => /^operations\[\d+\]/.exec(p.path)?.[0]));
  const problems = [...earlier, ...compositionProblems(result.data.operations).filter((p) => !reported.has(p.path))];
  if (problems.length) throw new PlanInvalidError(source, problems);
  return result.data;
}
