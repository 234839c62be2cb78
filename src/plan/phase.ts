// The phases of a migration, in order (core: the ledger, the engine and the CLI all name them).

/** The four phases, in order. Verification is a gate inside contract, not a phase of its own. */
export const PHASES = ['expand', 'dual-write', 'backfill', 'contract'] as const;
export type Phase = (typeof PHASES)[number];
/** A migration's state in the ledger: its last completed phase, or pending (no row). */
export type MigrationState = Phase | 'pending';

export function isPhase(value: string): value is Phase {
  return (PHASES as readonly string[]).includes(value);
}
