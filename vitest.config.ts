import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Every project: one temporary directory for the run's files, removed at the end.
          globalSetup: ['test/support/temp-root.ts'],
          setupFiles: ['test/support/load-parser.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          sequence: { groupOrder: 1 },
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/temp-root.ts', 'test/support/global-setup.ts'],
          setupFiles: ['test/support/load-parser.ts'],
          // One server for the run, a fresh database per file; files run in parallel.
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: true,
          maxWorkers: 2,
        },
      },
      {
        // Needs a streaming standby of the test server (PGSHIFT_TEST_STANDBY_URL): .ci/run builds one
        // on its PostgreSQL 15 pass and runs this project alone, since these tests pause and stop it.
        // Not part of `npm test` (the embedded PostgreSQL 18 ships no pg_basebackup).
        test: {
          name: 'standby',
          sequence: { groupOrder: 2 },
          include: ['test/standby/**/*.test.ts'],
          globalSetup: ['test/support/temp-root.ts', 'test/support/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          maxWorkers: 1,
        },
      },
    ],
  },
});
