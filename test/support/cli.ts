import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';
import { runCli } from '../../src/cli/program.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const EXAMPLES = path.join(ROOT, 'migrations');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  json<T = Record<string, unknown>>(): T;
}

/** Runs the CLI in-process (same code path as the bin, minus process startup); `signal` stops it as SIGINT would. */
export async function cli(
  args: string[],
  options: { url: string; dir?: string; env?: NodeJS.ProcessEnv; signal?: AbortSignal },
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const full = ['--database-url', options.url, '--log-level', 'silent', ...(options.dir ? ['--dir', options.dir] : []), ...args];
  const code = await runCli(full, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env: { ...options.env },
    signal: options.signal,
  });
  return { code, stdout, stderr, json: () => JSON.parse(stdout) };
}

/** Runs the real `pgshift` process (through tsx), for exit codes, signals and locks across processes. */
export function spawnCli(
  args: string[],
  options: { url: string; dir?: string; env?: NodeJS.ProcessEnv },
): {
  child: ChildProcess;
  done: Promise<CliResult>;
} {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(ROOT, 'src/cli/main.ts'),
      '--database-url',
      options.url,
      ...(options.dir ? ['--dir', options.dir] : []),
      ...args,
    ],
    { cwd: ROOT, env: { ...process.env, PGSHIFT_LOG_LEVEL: 'warn', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // A test that fails half-way must not leave its orchestrator running (and holding the lock).
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr, json: () => JSON.parse(stdout) }));
  });
  return { child, done };
}
