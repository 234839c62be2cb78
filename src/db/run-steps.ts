import type pg from 'pg';
import type { TableRef } from '../catalog/introspect.js';
import type { Logger } from '../logger.js';
import type { DdlStep } from '../plan/steps.js';
import { queryRows } from './queryable.js';
import { transaction, withLockRetry, type LockPolicy } from './lock-retry.js';
import { runIndexStep } from './concurrent-index.js';

export interface StepRunnerOptions {
  pool: pg.Pool;
  log: Logger;
  lockPolicy: LockPolicy;
  /**
   * statement_timeout of the phase transaction: it holds ACCESS EXCLUSIVE locks, so a statement
   * that unexpectedly scans must fail rather than block the table.
   */
  phaseStatementTimeoutMs: number;
}

async function isDone(client: pg.ClientBase, step: DdlStep): Promise<boolean> {
  if (!step.skipIf) return false;
  const [row] = await queryRows<{ done: boolean }>(client, step.skipIf);
  return row?.done === true;
}

function tablesOf(steps: readonly DdlStep[]): TableRef[] {
  const seen = new Map<string, TableRef>();
  for (const s of steps) for (const t of [s.table, s.otherTable]) if (t) seen.set(`${t.schema}.${t.name}`, t);
  return [...seen.values()];
}

/**
 * A phase's steps of several operations, `own` and `none` steps first, each operation's steps in
 * their order. Within one operation a `phase` step before a non-transactional one is a bug; across
 * operations the order may change (e.g. a CREATE INDEX CONCURRENTLY of operations[1] runs before
 * the phase transaction holding operations[0]'s ALTER TABLE), since the operations of one
 * migration are all inspected against the catalog before any of them runs.
 */
export function nonTransactionalFirst(steps: readonly DdlStep[]): DdlStep[] {
  const seenPhase = new Set<string>();
  for (const s of steps) {
    const op = s.id.split('.')[0]!;
    if (s.tx === 'phase') seenPhase.add(op);
    else if (seenPhase.has(op))
      throw new Error(`bug: transactional steps must come last (${steps.map((x) => `${x.id}:${x.tx}`).join(', ')})`);
  }
  return [...steps.filter((s) => s.tx !== 'phase'), ...steps.filter((s) => s.tx === 'phase')];
}

/** One statement of a phase as it ran: for `advance --json` and the ledger. */
export interface StepRun {
  id: string;
  lock: DdlStep['lock'];
  seconds: number;
  /** Already done (its skipIf held), so not run. */
  skipped: boolean;
}

/**
 * Runs a phase's steps: `own` and `none` steps first, each on its own with lock_timeout and
 * retries (index steps through src/db/concurrent-index.ts), then every `phase` step in one
 * transaction together with `finalize` (the ledger update), so the phase either commits whole or
 * not at all.
 */
export async function runSteps(
  options: StepRunnerOptions,
  given: readonly DdlStep[],
  finalize: (client: pg.ClientBase) => Promise<void>,
): Promise<{ ran: string[]; skipped: string[]; steps: StepRun[] }> {
  const steps = nonTransactionalFirst(given);
  const runs: StepRun[] = [];
  const since = (t0: number) => Number(((performance.now() - t0) / 1000).toFixed(3));
  const firstPhase = steps.findIndex((s) => s.tx === 'phase');
  const ran: string[] = [];
  const skipped: string[] = [];
  const { pool, log, lockPolicy } = options;
  const client = await pool.connect();
  try {
    for (const step of firstPhase >= 0 ? steps.slice(0, firstPhase) : steps) {
      const retry = { policy: lockPolicy, log, what: step.sql, tables: tablesOf([step]), observer: pool, waiter: client };
      const t0 = performance.now();
      const done = step.index
        ? await runIndexStep(options, step, step.index)
        : await withLockRetry(retry, async () => {
            if (step.tx === 'none') {
              if (await isDone(client, step)) return true;
              await client.query(`SET lock_timeout = ${lockPolicy.lockTimeoutMs}`);
              try {
                await client.query(step.sql);
              } finally {
                await client.query('RESET lock_timeout');
              }
              return false;
            }
            return transaction(client, { lockTimeoutMs: lockPolicy.lockTimeoutMs, statementTimeoutMs: 0 }, async (c) => {
              if (await isDone(c, step)) return true;
              await c.query(step.sql);
              return false;
            });
          });
      (done ? skipped : ran).push(step.id);
      runs.push({ id: step.id, lock: step.lock, seconds: since(t0), skipped: done });
      log.info({ step: step.id, lock: step.lock, skipped: done }, done ? `already done: ${step.description}` : step.description);
    }
    const phaseSteps = firstPhase >= 0 ? steps.slice(firstPhase) : [];
    const retry = {
      policy: lockPolicy,
      log,
      what: phaseSteps.length ? `${phaseSteps.length} statement(s) of the phase transaction` : 'ledger update',
      tables: tablesOf(phaseSteps),
      observer: pool,
      waiter: client,
    };
    const phaseRuns: StepRun[] = [];
    const phaseRan = await withLockRetry(retry, () =>
      transaction(client, { lockTimeoutMs: lockPolicy.lockTimeoutMs, statementTimeoutMs: options.phaseStatementTimeoutMs }, async (c) => {
        const done: string[] = [];
        // Timed again on each attempt: what is kept is the attempt that committed.
        phaseRuns.length = 0;
        for (const step of phaseSteps) {
          const t0 = performance.now();
          const skip = await isDone(c, step);
          if (!skip) {
            await c.query(step.sql);
            done.push(step.id);
          }
          phaseRuns.push({ id: step.id, lock: step.lock, seconds: since(t0), skipped: skip });
        }
        await finalize(c);
        return done;
      }),
    );
    for (const step of phaseSteps) log.info({ step: step.id, lock: step.lock }, step.description);
    ran.push(...phaseRan);
    return { ran, skipped, steps: [...runs, ...phaseRuns] };
  } finally {
    client.release();
  }
}
