import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A temporary migrations directory holding the given plans (objects as JSON, strings as-is). */
export function planDir(plans: Record<string, unknown>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgshift-plans-'));
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
