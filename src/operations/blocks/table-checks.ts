import { describeRef, relkindName, type TableInfo } from '../../catalog/introspect.js';
import type { PlanProblem } from '../../errors.js';

/**
 * The table-level refusals operations share, in one wording: not a plain table, inheritance
 * children, a typed table (`typed`), and no key to walk the rows on (`key`: what the key is for).
 */
export function tableProblems(
  table: TableInfo,
  o: { kind: string; path: string; typed: boolean; key: 'batch the backfill' | 'verify the existing rows' | null },
): PlanProblem[] {
  const where = describeRef(table);
  const problems: PlanProblem[] = [];
  const at = `${o.path}.table`;
  if (table.relkind !== 'r')
    problems.push({ path: at, message: `${where} is a ${relkindName(table.relkind)}; ${o.kind} supports plain tables` });
  if (table.hasInheritanceChildren) problems.push({ path: at, message: `${where} has inheritance children (not supported yet)` });
  if (o.typed && table.isTyped) problems.push({ path: at, message: `${where} is a typed table (OF type); its columns come from the type` });
  if (o.key !== null && !table.key)
    problems.push({ path: at, message: `${where} has no primary key or unique index over NOT NULL columns to ${o.key} on` });
  return problems;
}
