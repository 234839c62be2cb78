import { PhaseOrderError } from '../errors.js';
import { handlerFor } from '../operations/index.js';
import { PHASES, type MigrationState, type Phase } from '../plan/model.js';
import { stateOf, type Target } from './targets.js';

export interface Wait {
  migration: string;
  columns: string[];
}

/**
 * A pending migration waits while an earlier (by id) unfinished migration touches any of the
 * same columns: renaming a→b then b→c must not interleave, or the second would read the first's
 * half-built column as its source of truth. `all` is in order of id.
 */
export function waitsOf(all: Target[]): Map<string, Wait> {
  const held = new Map<string, string>();
  const waits = new Map<string, Wait>();
  for (const t of all) {
    const plan = t.record?.plan ?? t.migration;
    const columns = plan.operations.flatMap((op) =>
      handlerFor(op)
        .columns(op)
        .map((c) => `${c.schema}.${c.table}.${c.column}`),
    );
    const state = stateOf(t);
    if (state === 'pending') {
      const clash = columns.filter((c) => held.has(c));
      if (clash.length) waits.set(t.migration.id, { migration: held.get(clash[0]!)!, columns: [...new Set(clash)] });
    }
    if (state !== 'contract') for (const c of columns) if (!held.has(c)) held.set(c, t.migration.id);
  }
  return waits;
}

/** The refusal of a named migration that waits (exit 3). */
export function waitRefusal(id: string, wait: Wait): PhaseOrderError {
  return new PhaseOrderError(
    id,
    `waits for ${wait.migration}, which is not finished and touches the same column(s): ${wait.columns.join(', ')}`,
  );
}

export function nextPhase(state: MigrationState): Phase | null {
  if (state === 'pending') return PHASES[0];
  return PHASES[PHASES.indexOf(state) + 1] ?? null;
}

/** The phases after `state` up to and including `to` (default: the next one only). */
export function phasesBetween(state: MigrationState, to: Phase | undefined): Phase[] {
  const from = state === 'pending' ? 0 : PHASES.indexOf(state) + 1;
  const end = to ? PHASES.indexOf(to) + 1 : from + 1;
  return PHASES.slice(from, Math.max(from, end));
}
