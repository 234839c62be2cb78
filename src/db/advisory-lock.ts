import pg from 'pg';
import { OrchestratorBusyError } from '../errors.js';
import { queryRows } from './queryable.js';

/** One orchestrator per database: key of the session advisory lock (two int4 halves: "pgsh", "ift!"). */
const LOCK_CLASS = 0x70677368;
const LOCK_OBJ = 0x69667421;

/** Whether some orchestrator holds this database's lock right now. */
export async function orchestratorRunning(db: Pick<pg.ClientBase, 'query'>): Promise<boolean> {
  const [row] = await queryRows<{ held: boolean }>(
    db,
    `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1 AND objid = $2
              AND objsubid = 2 AND database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())) AS held`,
    [LOCK_CLASS, LOCK_OBJ],
  );
  return row?.held === true;
}

export interface HeldLock {
  client: pg.Client;
  /** Aborted when the lock's connection is lost: the lock is gone with it, so the run must stop. */
  lost: AbortSignal;
  release(): Promise<void>;
}

/**
 * Takes the orchestrator lock on a dedicated connection held for the whole run (a session lock on a
 * pooled connection would go back to the pool with it). A second orchestrator gets
 * OrchestratorBusyError naming the holder.
 */
export async function acquireOrchestratorLock(config: pg.ClientConfig): Promise<HeldLock> {
  const client = new pg.Client({ ...config, keepAlive: true });
  const lost = new AbortController();
  // An idle connection that dies emits 'error'; without a listener that would crash the process.
  client.on('error', (error) => lost.abort(error));
  await client.connect();
  try {
    // The lock connection idles for the whole run; a server-wide idle_session_timeout must not end it.
    await client.query('SET idle_session_timeout = 0').catch(() => undefined);
    const [row] = await queryRows<{ locked: boolean }>(client, 'SELECT pg_try_advisory_lock($1, $2) AS locked', [
      LOCK_CLASS,
      LOCK_OBJ,
    ]);
    if (!row?.locked) {
      const [holder] = await queryRows<{ pid: number; application_name: string; backend_start: Date; client: string | null }>(
        client,
        `SELECT a.pid, a.application_name, a.backend_start, a.client_addr::text AS client
           FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 2
            AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())`,
        [LOCK_CLASS, LOCK_OBJ],
      );
      throw new OrchestratorBusyError(
        holder?.pid ?? null,
        holder?.application_name ?? null,
        holder?.backend_start ? holder.backend_start.toISOString() : null,
        holder?.client ?? null,
      );
    }
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  let released = false;
  return {
    client,
    lost: lost.signal,
    async release() {
      if (released) return;
      released = true;
      if (lost.signal.aborted) {
        await client.end().catch(() => undefined);
        return;
      }
      try {
        await client.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_CLASS, LOCK_OBJ]);
      } finally {
        await client.end().catch(() => undefined);
      }
    },
  };
}
