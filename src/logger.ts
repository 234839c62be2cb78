import { pino, type Logger as PinoLogger } from 'pino';
import pretty, { prettyFactory } from 'pino-pretty';

export type Logger = PinoLogger;

export interface LoggerOptions {
  level?: string;
  /** Human-readable output; defaults to whether stderr is a TTY. */
  pretty?: boolean;
  /**
   * Where each log line goes instead of stderr, synchronously and in order: the CLI's terminal
   * writer, which prints logs above its progress line.
   */
  write?: (text: string) => void;
}

const PRETTY = { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' };

/** Logs always go to stderr, so stdout can carry --json results alone. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.PGSHIFT_LOG_LEVEL ?? 'info';
  const usePretty = options.pretty ?? Boolean(process.stderr.isTTY);
  const write = options.write;
  if (write) {
    const format = usePretty ? prettyFactory(PRETTY) : (line: string) => line;
    return pino({ level, base: usePretty ? undefined : { pid: process.pid } }, { write: (line: string) => write(format(line)) });
  }
  if (usePretty) {
    return pino({ level, base: undefined }, pretty({ ...PRETTY, destination: 2, sync: true }));
  }
  return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
