import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../tools/embedded.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
    serverVersion: string;
  }
}

/**
 * One PostgreSQL server for the whole run:
 * - PGSHIFT_TEST_DATABASE_URL: an existing server (CI uses it for Debian's PostgreSQL 15);
 * - PGSHIFT_TEST_CONTAINERS=1: a Docker container via testcontainers (PGSHIFT_TEST_PG_IMAGE, default postgres:18);
 * - otherwise: the embedded PostgreSQL 18 from npm, removed at the end.
 */
export default async function setup(project: TestProject) {
  let url = process.env.PGSHIFT_TEST_DATABASE_URL;
  let stop: (() => Promise<unknown>) | undefined;
  if (!url && process.env.PGSHIFT_TEST_CONTAINERS === '1') {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer(process.env.PGSHIFT_TEST_PG_IMAGE ?? 'postgres:18').start();
    url = container.getConnectionUri();
    stop = () => container.stop();
  } else if (!url) {
    // Durability is not under test; fsync off keeps the suite fast on small machines.
    const server = await startEmbeddedPostgres({
      settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: 200 },
    });
    url = server.url;
    stop = () => server.stop();
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
  await client.end();
  const version = rows[0]?.server_version ?? 'unknown';
  process.stdout.write(`pgshift integration tests on PostgreSQL ${version}\n`);
  project.provide('adminUrl', url);
  project.provide('serverVersion', version);
  return async () => {
    await stop?.();
  };
}
