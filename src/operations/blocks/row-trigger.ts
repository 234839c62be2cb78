import { describeRef, functionExists, triggerState, type TableRef } from '../../catalog/introspect.js';
import type { Queryable } from '../../db/queryable.js';
import { dollarQuote, ident, literal, qualified } from '../../sql/ident.js';
import { BACKFILL_SETTING, PGSHIFT_SCHEMA } from './names.js';
import type { DdlStep, ObjectNames } from '../../plan/steps.js';

/**
 * The lifecycle of an operation's BEFORE INSERT OR UPDATE row trigger: its function (in schema
 * pgshift) and trigger installed at dual-write, dropped at contract, dropped IF EXISTS by rollback.
 */
export function rowTrigger(o: {
  table: TableRef;
  names: ObjectNames;
  index: number;
  /** plpgsql body (BEGIN … END) of the trigger function. */
  body: string;
  /** What the function does, for `plan`: "keeping a and b equal in both directions". */
  purpose: string;
  /** Why it goes, at rollback; and at contract unless `stopAtContract` says otherwise. */
  stop: string;
  stopAtContract?: string;
  /**
   * The operation's backfill UPDATE computes every column the trigger would (default true): the
   * trigger then skips the backfill's own rows (see BACKFILL_SETTING). False keeps it firing.
   */
  skipForBackfill?: boolean;
}): { dualWrite: DdlStep[]; contract: DdlStep[]; rollback: DdlStep[] } {
  const { table, index } = o;
  const t = qualified(table.schema, table.name);
  const fn = qualified(PGSHIFT_SCHEMA, o.names.function);
  const trigger = ident(o.names.trigger);
  const step = (phase: string, what: string, description: string, sql: string, lock: DdlStep['lock']): DdlStep => ({
    id: `${index}.${phase}.${what}`,
    description,
    sql,
    lock,
    table: lock === 'none' ? null : table,
    tx: 'phase',
  });
  return {
    dualWrite: [
      step(
        'dual-write',
        'function',
        `trigger function ${o.purpose}`,
        `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS ${dollarQuote(`\n${o.body}\n`)}`,
        'none',
      ),
      step(
        'dual-write',
        'trigger',
        `fire it before every INSERT and UPDATE of ${describeRef(table)}`,
        `CREATE TRIGGER ${trigger} BEFORE INSERT OR UPDATE ON ${t} FOR EACH ROW${o.skipForBackfill === false ? '' : ` ${skipBackfillRows}`} EXECUTE FUNCTION ${fn}()`,
        'SHARE ROW EXCLUSIVE',
      ),
    ],
    contract: [
      step('contract', 'drop-trigger', o.stopAtContract ?? o.stop, `DROP TRIGGER ${trigger} ON ${t}`, 'ACCESS EXCLUSIVE'),
      step('contract', 'drop-function', 'remove the trigger function', `DROP FUNCTION ${fn}()`, 'none'),
    ],
    rollback: [
      step('rollback', 'drop-trigger', o.stop, `DROP TRIGGER IF EXISTS ${trigger} ON ${t}`, 'ACCESS EXCLUSIVE'),
      step('rollback', 'drop-function', 'remove the trigger function', `DROP FUNCTION IF EXISTS ${fn}()`, 'none'),
    ],
  };
}

/** The trigger's WHEN: fire unless the writing transaction is the backfill's own. */
const skipBackfillRows = `WHEN (pg_catalog.current_setting(${literal(BACKFILL_SETTING)}, true) IS DISTINCT FROM 'on')`;

/** Drift of what dual-write installed: the trigger missing or disabled, or its function missing. */
export async function rowTriggerDrift(db: Queryable, table: TableRef, names: ObjectNames): Promise<string[]> {
  const problems: string[] = [];
  const state = await triggerState(db, table, names.trigger);
  if (state !== 'enabled') problems.push(`dual-write trigger ${names.trigger} on ${describeRef(table)} is ${state}`);
  if (!(await functionExists(db, PGSHIFT_SCHEMA, names.function)))
    problems.push(`trigger function ${PGSHIFT_SCHEMA}.${names.function} is missing`);
  return problems;
}
