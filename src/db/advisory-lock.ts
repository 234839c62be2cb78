import pg from 'pg';
import { ConnectionPooledError, LockNotReleasedError, OrchestratorBusyError } from '../errors.js';
import { checkOwnBackend } from './pooler-detect.js';
import { queryRows } from './queryable.js';

/** One orchestrator per database: key of the session advisory lock (two int4 halves: "pgsh", "ift!"). */
const LOCK_CLASS = 0x70677368;
const LOCK_OBJ = 0x69667421;

/** A pg_locks row `l` of the orchestrator lock in the current database (`$1`, `$2`: the key). */
const IS_LOCK = `l.locktype = 'advisory' AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 2
  AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())`;

/** Whether some orchestrator holds this database's lock right now. */
export async function orchestratorRunning(db: Pick<pg.ClientBase, 'query'>): Promise<boolean> {
  const [row] = await queryRows<{ held: boolean }>(
    db,
    `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks l WHERE ${IS_LOCK} AND l.granted) AS held`,
    [LOCK_CLASS, LOCK_OBJ],
  );
  return row?.held === true;
}

interface Holder {
  pid: number;
  application_name: string | null;
  backend_start: Date | null;
  client: string | null;
}

async function holders(db: Pick<pg.ClientBase, 'query'>): Promise<Holder[]> {
  return queryRows<Holder>(
    db,
    `SELECT l.pid, a.application_name, a.backend_start, a.client_addr::text AS client
       FROM pg_catalog.pg_locks l LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
      WHERE ${IS_LOCK} AND l.granted`,
    [LOCK_CLASS, LOCK_OBJ],
  );
}

export interface HeldLock {
  client: pg.Client;
  /** The server backend that holds the lock (checked to be `client`'s own, unshared). */
  backendPid: number;
  /** Why the pooling check ran with fewer probes than it wanted (e.g. a full pool), else null. */
  shortOfProbes: string | null;
  /** Aborted when the lock's connection is lost: the lock is gone with it, so the run must stop. */
  lost: AbortSignal;
  /** Unlocks and closes the connection; LockNotReleasedError if the unlock found no lock to release. */
  release(): Promise<void>;
}

/**
 * Takes the orchestrator lock on a dedicated connection held for the whole run (a session lock on a
 * pooled connection would go back to the pool with it). First the connection must show that it
 * keeps one server backend to itself (ConnectionPooledError otherwise, before anything is locked);
 * then, in one transaction, that backend must not hold the lock already (re-entrant on a backend
 * that another client shares) and the try-lock runs. A second orchestrator gets
 * OrchestratorBusyError naming the holder.
 */
export async function acquireOrchestratorLock(config: pg.ClientConfig): Promise<HeldLock> {
  const client = new pg.Client({ ...config, keepAlive: true });
  const lost = new AbortController();
  // An idle connection that dies emits 'error'; without a listener that would crash the process.
  client.on('error', (error) => lost.abort(error));
  await client.connect();
  let backendPid: number;
  let shortOfProbes: string | null;
  try {
    ({ backendPid, shortOfProbes } = await checkOwnBackend(client, config));
    // The lock connection idles for the whole run; a server-wide idle_session_timeout must not end it.
    await client.query('SET idle_session_timeout = 0').catch(() => undefined);
    await client.query('BEGIN');
    const [here] = await queryRows<{ pid: number; mine: boolean }>(
      client,
      `SELECT pg_backend_pid() AS pid, EXISTS (SELECT 1 FROM pg_catalog.pg_locks l WHERE ${IS_LOCK} AND l.granted AND l.pid = pg_backend_pid()) AS mine`,
      [LOCK_CLASS, LOCK_OBJ],
    );
    if (here!.pid !== backendPid)
      throw new ConnectionPooledError(
        'transaction',
        `one connection was served by backend pid ${backendPid}, then by backend pid ${here!.pid}`,
        [backendPid, here!.pid],
      );
    if (here!.mine)
      throw new ConnectionPooledError(
        'transaction',
        `backend pid ${backendPid} already holds the pgshift lock before pgshift's connection took it: another client shares that backend, ` +
          `or a pooler handed the backend over without resetting its session (PgBouncer server_reset_query)`,
        [backendPid],
      );
    const [row] = await queryRows<{ locked: boolean }>(client, 'SELECT pg_try_advisory_lock($1, $2) AS locked', [LOCK_CLASS, LOCK_OBJ]);
    if (!row?.locked) {
      const [holder] = await holders(client);
      throw new OrchestratorBusyError(
        holder?.pid ?? null,
        holder?.application_name ?? null,
        holder?.backend_start ? holder.backend_start.toISOString() : null,
        holder?.client ?? null,
      );
    }
    await client.query('COMMIT');
  } catch (error) {
    // Closing the session also drops a lock taken before a later step failed.
    await client.end().catch(() => undefined);
    throw error;
  }
  let released = false;
  return {
    client,
    backendPid,
    shortOfProbes,
    lost: lost.signal,
    async release() {
      if (released) return;
      released = true;
      if (lost.signal.aborted) {
        await client.end().catch(() => undefined);
        return;
      }
      try {
        const [row] = await queryRows<{ pid: number; released: boolean }>(
          client,
          'SELECT pg_backend_pid() AS pid, pg_advisory_unlock($1, $2) AS released',
          [LOCK_CLASS, LOCK_OBJ],
        );
        if (!row?.released) {
          const left = await holders(client).catch(() => []);
          throw new LockNotReleasedError(
            backendPid,
            row?.pid ?? backendPid,
            left.map((h) => h.pid),
          );
        }
      } finally {
        await client.end().catch(() => undefined);
      }
    },
  };
}
