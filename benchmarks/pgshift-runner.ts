import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ChildConfig } from './pgshift-child.js';

type Event = Record<string, unknown> & { bench: string };

const CHILD = fileURLToPath(new URL('./pgshift-child.ts', import.meta.url));
const REPO = fileURLToPath(new URL('..', import.meta.url));

/** The parent's side of benchmarks/pgshift-child.ts: start it, wait for its events, say "go". */
export class PgshiftChild {
  private readonly events = new Map<string, Event>();
  private readonly waiters = new Set<() => void>();
  private exited: { code: number | null; signal: string | null } | null = null;

  private constructor(private readonly child: ChildProcess) {
    const lines = readline.createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (!line.startsWith('{')) return;
      try {
        const event = JSON.parse(line) as Event;
        if (typeof event.bench === 'string') this.events.set(event.bench, event);
      } catch {
        return;
      }
      this.wake();
    });
    child.on('exit', (code, signal) => {
      this.exited = { code, signal };
      this.wake();
    });
    child.stdin?.on('error', () => undefined);
  }

  /** Starts the child and waits until it has advanced to dual-write. */
  static async start(config: ChildConfig): Promise<PgshiftChild> {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(config)], {
      cwd: REPO,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const runner = new PgshiftChild(child);
    await runner.waitFor('ready');
    return runner;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves with the event once the child has sent it; rejects if it fails or exits first. */
  waitFor(name: string): Promise<Event> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const error = this.events.get('error');
        const event = this.events.get(name);
        let settled = true;
        if (event) resolve(event);
        else if (error) reject(new Error(`pgshift child: ${String(error.message)}${error.code ? ` (${String(error.code)})` : ''}`));
        else if (this.exited)
          reject(new Error(`pgshift child exited (code ${this.exited.code}, signal ${this.exited.signal}) before "${name}"`));
        else settled = false;
        if (settled) this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  go(): void {
    this.child.stdin?.write('go\n');
  }

  /** Ends the child if it is still running (after a failure in the parent). */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGTERM');
    const deadline = Date.now() + 10_000;
    while (!this.exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (!this.exited) this.child.kill('SIGKILL');
  }
}
