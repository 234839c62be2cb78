import type { PhaseRun } from '../ledger/ledger.js';

/** How much a backfill grew its table: from the phase result of the last finished backfill run. */
export interface TableGrowth {
  task: string;
  heapGrowth: number | null;
  indexGrowth: number | null;
  vacuums: number;
}

interface TaskDetails {
  tableSize?: { heapGrowth: number | null; indexGrowth: number | null };
  vacuum?: { runs: number };
}

export function tableGrowthOf(runs: readonly PhaseRun[]): TableGrowth[] {
  const done = runs.filter((r) => r.phase === 'backfill' && r.action === 'apply' && r.status === 'succeeded');
  const last = done.reduce<PhaseRun | null>((a, r) => (!a || +(r.finishedAt ?? r.startedAt) >= +(a.finishedAt ?? a.startedAt) ? r : a), null);
  const tasks = (last?.details.tasks ?? {}) as Record<string, TaskDetails>;
  return Object.entries(tasks)
    .filter(([, t]) => t.tableSize)
    .map(([task, t]) => ({ task, heapGrowth: t.tableSize!.heapGrowth, indexGrowth: t.tableSize!.indexGrowth, vacuums: t.vacuum?.runs ?? 0 }));
}
