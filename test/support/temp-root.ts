import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The directory this run's temporary files go under (test/support/temp.ts), removed when the run ends. */
    tempRoot: string;
  }
}

/**
 * Global setup of every test project: one directory for everything the run's tests write to disk
 * (plans directories, targets files, schema dumps), removed at teardown, so a run leaves nothing
 * behind in the system's temporary directory. Each project gets its own (the projects of one
 * `vitest run` may set up and tear down at different times).
 */
export default function setup(project: TestProject) {
  const root = mkdtempSync(path.join(os.tmpdir(), `pgshift-test-${project.name}-`));
  // Traversable by the postgres user, which some helpers run binaries as.
  chmodSync(root, 0o755);
  project.provide('tempRoot', root);
  return () => {
    rmSync(root, { recursive: true, force: true });
  };
}
