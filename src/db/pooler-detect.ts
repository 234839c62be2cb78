import pg from 'pg';
import { ConnectionPooledError } from '../errors.js';
import { queryRows } from './queryable.js';

/**
 * Whether a connection has a server backend of its own, found by observation rather than guessed
 * from the port: pgshift's lock and session settings live on the backend, so a pooler that hands
 * the backend to other clients between transactions (PgBouncer `pool_mode=transaction`, pgcat,
 * Supavisor, RDS Proxy without pinning) breaks them.
 *
 * One pid comparison is not enough: a transaction pool with an idle backend often hands the same
 * one back. So `client` notes its backend pid, then up to PROBES other connections each open a
 * transaction and hold it; after each, `client` asks again. A session pool never gives a probe
 * `client`'s backend and never moves `client`; a transaction pool soon does one or the other
 * (a LIFO pool gives the first probe the backend just released; a round-robin pool moves `client`
 * once a probe holds the backend it would have reused).
 */

/** Probes held at once; two cover LIFO and round-robin pools, the third is margin for random ones. */
const PROBES = 3;
/** A probe that gets no backend this fast is given up on (a full session pool queues it): no evidence either way. */
const PROBE_WAIT_MS = 5_000;

export interface PoolingCheck {
  /** The backend `client` is served by, the same in every transaction it ran. */
  backendPid: number;
  /** Probes that held a transaction while `client` was checked. */
  probes: number;
  /** Why fewer than PROBES probes ran (e.g. the pool is full), else null. */
  shortOfProbes: string | null;
}

/** Runs `BEGIN; SELECT pg_backend_pid(); …` on `client`, leaving the transaction open. */
async function pidInTransaction(client: pg.ClientBase): Promise<number> {
  try {
    await client.query('BEGIN');
    const [row] = await queryRows<{ pid: number }>(client, 'SELECT pg_backend_pid() AS pid');
    return row!.pid;
  } catch (error) {
    // PgBouncer in statement mode ends the connection: "transaction blocks not allowed in statement pooling mode".
    const message = (error as Error).message ?? '';
    if (/pool/i.test(message))
      throw new ConnectionPooledError('statement', `a transaction of two statements was refused: "${message}"`, [], { cause: error });
    throw error;
  }
}

async function pidNow(client: pg.ClientBase): Promise<number> {
  const [row] = await queryRows<{ pid: number }>(client, 'SELECT pg_backend_pid() AS pid');
  return row!.pid;
}

/**
 * Throws ConnectionPooledError when `client` (connected with `config`) does not keep one server
 * backend to itself across transactions; otherwise returns that backend's pid. Leaves `client`
 * outside any transaction and every probe closed.
 */
export async function checkOwnBackend(client: pg.ClientBase, config: pg.ClientConfig): Promise<PoolingCheck> {
  const backendPid = await pidInTransaction(client);
  await client.query('COMMIT');
  const moved = async () => {
    const now = await pidNow(client);
    if (now !== backendPid)
      throw new ConnectionPooledError(
        'transaction',
        `one connection was served by backend pid ${backendPid}, then by backend pid ${now} in its next transaction`,
        [backendPid, now],
      );
  };
  const probes: pg.Client[] = [];
  /** Probes inside a transaction: rolled back before they close, so PgBouncer keeps their backends. */
  const open = new Set<pg.Client>();
  let shortOfProbes: string | null = null;
  try {
    for (let i = 0; i < PROBES; i++) {
      const probe = new pg.Client({
        ...config,
        application_name: `${config.application_name ?? 'pgshift'} (pooler check)`,
        connectionTimeoutMillis: PROBE_WAIT_MS,
        query_timeout: PROBE_WAIT_MS,
      });
      probe.on('error', () => undefined);
      probes.push(probe);
      let pid: number;
      try {
        await probe.connect();
        pid = await pidInTransaction(probe);
        open.add(probe);
      } catch (error) {
        if (error instanceof ConnectionPooledError) throw error;
        shortOfProbes = `probe ${i + 1} of ${PROBES} got no server connection: ${(error as Error).message}`;
        break;
      }
      if (pid === backendPid)
        throw new ConnectionPooledError(
          'transaction',
          `another connection's transaction was served by backend pid ${backendPid}, the backend of pgshift's own connection`,
          [backendPid],
        );
      await moved();
    }
    // With the probes holding their backends, a random pool gets more chances to move `client`.
    for (let i = 0; i < PROBES; i++) await moved();
  } finally {
    await Promise.all(
      probes.map(async (p) => {
        if (open.has(p)) await p.query('ROLLBACK').catch(() => undefined);
        await p.end().catch(() => undefined);
      }),
    );
  }
  return { backendPid, probes: probes.length - (shortOfProbes ? 1 : 0), shortOfProbes };
}
