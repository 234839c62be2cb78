import type { Command } from 'commander';
import type { Logger, Pgshift, PgshiftOptions } from '../index.js';

/** The program's own options, given before the command. */
export interface GlobalOptions {
  databaseUrl?: string;
  dir: string;
  json?: boolean;
  logLevel?: string;
  lockTimeout: number;
  lockAttempts: number;
  lockMaxDelay: number;
}

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Standard input, for `pgshift lint -` (default: the process's). */
  stdin?: () => Promise<string>;
}

/**
 * What a command's action returns. With --json, `value` is printed as JSON (or `json()`, for a
 * command with its own JSON document), else `human()`; then the process exits with `exitCode`.
 */
export interface Outcome {
  value: unknown;
  human: () => string;
  /** Default 0. */
  exitCode?: number;
  json?: () => string;
}

/** What one run of a command gets: built afresh for each run, shared with no other command. */
export interface Invocation {
  globals: GlobalOptions;
  /** --database-url given on the command line (not through DATABASE_URL). */
  databaseUrlFromCli: boolean;
  io: CliIo & Required<Pick<CliIo, 'stdin'>>;
  /** The command's logger (stderr; above the progress line on a terminal). */
  log: () => Logger;
  /** The library for this command, with the global options and a progress display if asked; always closed after `body`. */
  withPgshift: <T>(options: { progress?: boolean; extra?: Partial<PgshiftOptions> }, body: (pg: Pgshift) => Promise<T>) => Promise<T>;
}

export type Action<A extends unknown[]> = (run: Invocation, ...args: A) => Promise<Outcome>;

/**
 * Turns a command's action into commander's: `name` is the command (for application_name), the
 * outcome is printed, and an error becomes its exit code and, with --json, one JSON document.
 */
export type Wire = <A extends unknown[]>(name: string, action: Action<A>) => (...args: A) => Promise<void>;

/** What each file in src/cli/commands/ exports: adds its command (arguments, options, action) to the program. */
export type RegisterCommand = (program: Command, wire: Wire) => void;
