import pg from 'pg';
import { DEFAULT_BACKFILL_SETTINGS, type BackfillSettings, type ProgressEvent, type VerifySettings } from '../../phases/context.js';
import { DEFAULT_LOCK_POLICY, type LockPolicy } from '../db/lock-retry.js';
import { InvalidArgumentError } from '../errors.js';
import type { RunIdentity } from '../ledger/ledger.js';
import { silentLogger, type Logger } from '../logger.js';
import type { Migration } from '../plan/model.js';

export interface PgshiftOptions {
  /** postgres:// URL; or give `connection`. */
  databaseUrl?: string;
  connection?: pg.ClientConfig;
  /** Directory of plan files (default ./migrations); ignored when `migrations` is given. */
  dir?: string;
  /** Plans given directly (programmatic use, tests). */
  migrations?: Migration[];
  log?: Logger;
  /** application_name of every connection, so DBAs can see who is running. */
  application?: string;
  lockPolicy?: Partial<LockPolicy>;
  backfill?: Partial<BackfillSettings>;
  verify?: Partial<VerifySettings>;
  /** statement_timeout of a phase's DDL transaction (it holds strong locks). Default 10 s. */
  phaseStatementTimeoutMs?: number;
  onProgress?: (event: ProgressEvent) => void;
  /** Aborting stops a backfill or verification between batches, checkpoint intact. */
  signal?: AbortSignal;
}

/**
 * What every use case runs with: the validated settings, and the connection pool of the phases,
 * opened on first use. One session per `Pgshift` (or per CLI command); `close()` ends the pool.
 */
export interface Session {
  readonly log: Logger;
  /** Connection settings of the pool and of the orchestrator lock's own client. */
  readonly config: pg.ClientConfig;
  readonly identity: RunIdentity;
  readonly lockPolicy: LockPolicy;
  readonly backfill: BackfillSettings;
  readonly verify: VerifySettings;
  readonly phaseStatementTimeoutMs: number;
  /** Plans given directly, else read from `dir`. */
  readonly migrations: Migration[] | undefined;
  readonly dir: string;
  readonly onProgress: ((event: ProgressEvent) => void) | undefined;
  readonly signal: AbortSignal | undefined;
  db(): pg.Pool;
  close(): Promise<void>;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Checks the options (exit 2 on nonsense) and returns a session; connects nothing yet. */
export function openSession(options: PgshiftOptions): Session {
  const log = options.log ?? silentLogger();
  const application = options.application ?? 'pgshift';
  if (!options.databaseUrl && !options.connection)
    throw new InvalidArgumentError('no database given: pass --database-url or set DATABASE_URL');
  const config: pg.ClientConfig = {
    ...options.connection,
    connectionString: options.databaseUrl ?? options.connection?.connectionString,
    application_name: application,
  };
  const lockPolicy = { ...DEFAULT_LOCK_POLICY, ...options.lockPolicy };
  const backfill = { ...DEFAULT_BACKFILL_SETTINGS, ...definedOnly(options.backfill ?? {}) };
  if (backfill.batchSize !== null && (!Number.isInteger(backfill.batchSize) || backfill.batchSize < 1))
    throw new InvalidArgumentError(`batch size must be a positive integer, got ${backfill.batchSize}`);
  if (!Number.isInteger(backfill.workers) || backfill.workers < 1)
    throw new InvalidArgumentError(`workers must be a positive integer, got ${backfill.workers}`);
  if (lockPolicy.attempts < 1) throw new InvalidArgumentError('lock retry attempts must be at least 1');
  let pool: pg.Pool | null = null;
  return {
    log,
    config,
    identity: { application },
    lockPolicy,
    backfill,
    verify: { chunkSize: 50_000, sampleSize: 20, ...options.verify },
    phaseStatementTimeoutMs: options.phaseStatementTimeoutMs ?? 10_000,
    migrations: options.migrations,
    dir: options.dir ?? 'migrations',
    onProgress: options.onProgress,
    signal: options.signal,
    db() {
      if (!pool) {
        // Per backfill worker: its own connection, its hold check (control row and signals at once)
        // and the two watches of its batch (lock waits, app impact); plus the background VACUUM and
        // the ledger. Opened as needed, so a plain run uses fewer.
        pool = new pg.Pool({ ...config, max: backfill.workers * 5 + 2 });
        // An idle client's error (server restart) must not crash the process; the next query reports it.
        pool.on('error', (error) => log.warn({ err: error }, 'idle database connection failed'));
      }
      return pool;
    },
    async close() {
      const open = pool;
      pool = null;
      await open?.end();
    },
  };
}
