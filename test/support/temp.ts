import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';

let fallback: string | null = null;

/**
 * Where this run's temporary directories go: the one test/support/temp-root.ts created for the
 * run (and removes when it ends). Outside such a run (a project without that global setup), one
 * directory for this process, removed when the process exits.
 */
function tempRoot(): string {
  const provided = inject('tempRoot');
  if (provided) return provided;
  if (!fallback) {
    const dir = mkdtempSync(path.join(os.tmpdir(), `pgshift-test-${process.pid}-`));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    fallback = dir;
  }
  return fallback;
}

/** A new, empty directory for this test's files (`prefix` names it, for whoever reads a failure), removed with the run. */
export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tempRoot(), `${prefix}-`));
}
