import { pino, type Logger as PinoLogger } from 'pino';
import pretty from 'pino-pretty';

export type Logger = PinoLogger;

export interface LoggerOptions {
  level?: string;
  /** Human-readable output; defaults to whether stderr is a TTY. */
  pretty?: boolean;
}

/** Logs always go to stderr, so stdout can carry --json results alone. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.PGSHIFT_LOG_LEVEL ?? 'info';
  const usePretty = options.pretty ?? Boolean(process.stderr.isTTY);
  if (usePretty) {
    return pino(
      { level, base: undefined },
      pretty({ destination: 2, colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname', sync: true }),
    );
  }
  return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
