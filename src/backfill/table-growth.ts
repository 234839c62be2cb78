import type { PhaseRun } from '../ledger/ledger.js';

/** How much a backfill grew its table: from the phase result of the last finished backfill run. */
export interface TableGrowth {
  task: string;
  heapGrowth: number | null;
  indexGrowth: number | null;
  vacuums: number;
  /** Indexes rebuilt by --reindex-after, and the indexes' growth after that (null: none rebuilt). */
  reindexed: number;
  indexGrowthAfterReindex: number | null;
}

interface TaskDetails {
  tableSize?: { heapGrowth: number | null; indexGrowth: number | null; indexGrowthAfterReindex?: number | null };
  vacuum?: { runs: number };
  reindex?: { indexes?: { action: string }[] } | null;
}

export function tableGrowthOf(runs: readonly PhaseRun[]): TableGrowth[] {
  const done = runs.filter((r) => r.phase === 'backfill' && r.action === 'apply' && r.status === 'succeeded');
  const last = done.reduce<PhaseRun | null>(
    (a, r) => (!a || +(r.finishedAt ?? r.startedAt) >= +(a.finishedAt ?? a.startedAt) ? r : a),
    null,
  );
  const tasks = (last?.details.tasks ?? {}) as Record<string, TaskDetails>;
  return Object.entries(tasks)
    .filter(([, t]) => t.tableSize)
    .map(([task, t]) => {
      const reindexed = (t.reindex?.indexes ?? []).filter((i) => i.action === 'reindexed').length;
      return {
        task,
        heapGrowth: t.tableSize!.heapGrowth,
        indexGrowth: t.tableSize!.indexGrowth,
        vacuums: t.vacuum?.runs ?? 0,
        reindexed,
        indexGrowthAfterReindex: reindexed ? (t.tableSize!.indexGrowthAfterReindex ?? null) : null,
      };
    });
}
