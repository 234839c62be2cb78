import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { freePort } from '../../tools/embedded.js';

export type PoolMode = 'session' | 'transaction' | 'statement';

export interface PgBouncer {
  mode: PoolMode;
  port: number;
  /** `url` (a server URL) with host and port swapped for this PgBouncer's: same user, password, database. */
  through(url: string): string;
  /** PgBouncer's own log, for failure messages. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Where the pgbouncer binary is: $PGSHIFT_PGBOUNCER, else on PATH, else Debian's /usr/sbin. Null
 * when there is none; under CI=true that is an error (CI installs it), so the pooler tests never
 * skip there.
 */
export function findPgBouncer(): string | null {
  const candidates = [
    process.env.PGSHIFT_PGBOUNCER,
    ...(process.env.PATH ?? '')
      .split(path.delimiter)
      .filter(Boolean)
      .map((dir) => path.join(dir, 'pgbouncer')),
    '/usr/sbin/pgbouncer',
  ].filter((p): p is string => !!p);
  const found = candidates.find((p) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!found && process.env.CI === 'true')
    throw new Error('pgbouncer is not installed (CI=true): .ci/run installs it with apt-get install pgbouncer');
  return found ?? null;
}

/** uid and gid of the `postgres` user: PgBouncer refuses to run as root. */
function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/**
 * Starts a PgBouncer in `mode` in front of the server of `serverUrl` (any database on it: a
 * wildcard entry), on a free loopback port, with its own temporary directory, config and auth
 * file. Clients authenticate by trust; PgBouncer logs in to the server as the URL's user with its
 * password (the embedded server wants one, Debian's CI server trusts loopback). Runs as `postgres`
 * when started by root. `settings` adds or overrides [pgbouncer] settings (later lines win). `stop()`
 * ends it and removes the directory.
 */
export async function startPgBouncer(
  serverUrl: string,
  mode: PoolMode,
  options: { binary?: string; poolSize?: number; settings?: Record<string, string | number> } = {},
): Promise<PgBouncer> {
  const binary = options.binary ?? findPgBouncer();
  if (!binary) throw new Error('pgbouncer not found');
  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username || 'postgres');
  const password = decodeURIComponent(server.password);
  const dir = await mkdtemp(path.join(os.tmpdir(), `pgshift-pgbouncer-${mode}-`));
  const asPostgres = process.getuid?.() === 0 ? postgresUser() : null;
  if (asPostgres) await chown(dir, asPostgres.uid, asPostgres.gid);
  const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
  await writeFile(path.join(dir, 'userlist.txt'), `${quote(user)} ${quote(password)}\n`);
  const logFile = path.join(dir, 'pgbouncer.log');

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const ini = [
      '[databases]',
      `* = host=${server.hostname} port=${server.port || 5432}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${path.join(dir, 'userlist.txt')}`,
      `pool_mode = ${mode}`,
      'max_client_conn = 500',
      `default_pool_size = ${options.poolSize ?? 20}`,
      'server_login_retry = 1',
      'ignore_startup_parameters = extra_float_digits,options',
      `logfile = ${logFile}`,
      'log_connections = 0',
      'log_disconnections = 0',
      ...Object.entries(options.settings ?? {}).map(([k, v]) => `${k} = ${v}`),
    ].join('\n');
    const iniFile = path.join(dir, 'pgbouncer.ini');
    await writeFile(iniFile, `${ini}\n`);
    if (asPostgres) for (const f of ['userlist.txt', 'pgbouncer.ini']) await chown(path.join(dir, f), asPostgres.uid, asPostgres.gid);

    const child = spawn(binary, [iniFile], { stdio: ['ignore', 'ignore', 'pipe'], ...(asPostgres ?? {}) });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const log = async () => `${stderr}${await readFile(logFile, 'utf8').catch(() => '')}`;
    const bouncer: PgBouncer = {
      mode,
      port,
      through(url: string) {
        const u = new URL(url);
        u.hostname = '127.0.0.1';
        u.port = String(port);
        return u.toString();
      },
      log,
      async stop() {
        await stopChild(child, exited);
        await rm(dir, { recursive: true, force: true });
      },
    };
    if (await ready(bouncer.through(serverUrl), child)) return bouncer;
    const why = await log();
    await stopChild(child, exited);
    // Another process may have taken the free port between the probe and PgBouncer's bind.
    if (attempt >= 3 || !/Address already in use/i.test(why)) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`PgBouncer (${mode}) did not start on port ${port}:\n${why}`);
    }
  }
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Waits until a query through PgBouncer reaches the server; false if it exited or never answered. */
async function ready(url: string, child: ChildProcess, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.query('SELECT 1');
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await c.end().catch(() => undefined);
    }
  }
  return false;
}

/** Why the pooler tests cannot run here, shown in their title; null when they can (always under CI=true). */
export const PGBOUNCER_MISSING: string | null = findPgBouncer()
  ? null
  : 'skipped: pgbouncer is not installed (apt-get install pgbouncer, or set PGSHIFT_PGBOUNCER)';

/** PgBouncers in front of the run's server, one per mode, started before a file's tests and stopped after them. */
export function usePgBouncers(serverUrl: () => string, modes: readonly PoolMode[]): Partial<Record<PoolMode, PgBouncer>> {
  const bouncers: Partial<Record<PoolMode, PgBouncer>> = {};
  beforeAll(async () => {
    for (const mode of modes) bouncers[mode] = await startPgBouncer(serverUrl(), mode);
  });
  afterAll(async () => {
    for (const b of Object.values(bouncers)) await b.stop();
  });
  return bouncers;
}
