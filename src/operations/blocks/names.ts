import { createHash } from 'node:crypto';
import type { ObjectNames } from '../../plan/steps.js';

/** The schema holding the ledger and pgshift's trigger functions. */
export const PGSHIFT_SCHEMA = 'pgshift';

/**
 * The setting the backfill turns on for its own transactions only (`set_config(…, true)`, i.e.
 * SET LOCAL), so the dual-write trigger, whose WHEN tests it, skips the rows the backfill UPDATE
 * already computes in full. App sessions never set it, so the trigger fires for every app write.
 */
export const BACKFILL_SETTING = 'pgshift.backfill';

/**
 * Short, stable names derived from the migration id and operation index, so they fit in 63 bytes
 * whatever the user's names are, and a rerun finds the objects an earlier run created.
 */
export function objectNames(migrationId: string, operationIndex: number): ObjectNames {
  const hash = createHash('sha256').update(`${migrationId}/${operationIndex}`).digest('hex').slice(0, 12);
  return {
    hash,
    trigger: `pgshift_sync_${hash}`,
    function: `sync_${hash}`,
    notNullCheck: `pgshift_nn_${hash}`,
  };
}
