import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './temp.js';

/** A temporary migrations directory holding the given plans (objects as JSON, strings as-is), removed with the run. */
export function planDir(plans: Record<string, unknown>): string {
  const dir = tempDir('plans');
  for (const [file, plan] of Object.entries(plans)) {
    writeFileSync(path.join(dir, file), typeof plan === 'string' ? plan : JSON.stringify(plan, null, 2));
  }
  return dir;
}

export function renamePlan(id: string, op: { table: string; from: string; to: string; schema?: string }) {
  return { [`${id}.json`]: { id, operations: [{ kind: 'renameColumn', ...op }] } };
}

/** One migration `id` with these operations, as `planDir` takes it. */
export function migrationPlan(id: string, ...operations: Record<string, unknown>[]) {
  return { [`${id}.json`]: { id, operations } };
}
