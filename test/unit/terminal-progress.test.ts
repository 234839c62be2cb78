import { describe, expect, test } from 'vitest';
import { formatDuration, progressLine, progressReporter } from '../../src/cli/progress.js';
import { TerminalLine } from '../../src/cli/terminal.js';
import { createLogger } from '../../src/logger.js';
import type { ProgressEvent } from '../../phases/context.js';

/**
 * A fake TTY: applies what is written the way a terminal would (carriage return, erase line, new
 * line, and the saved-cursor escapes), so a test can read the scrollback as a user would see it.
 */
class FakeTty {
  columns = 200;
  raw = '';
  private rows: string[] = [''];
  private row = 0;
  private col = 0;
  private saved: [number, number] | null = null;

  write(text: string): boolean {
    this.raw += text;
    for (let i = 0; i < text.length; i++) {
      const rest = text.slice(i);
      if (rest.startsWith('\x1b[2K')) {
        this.rows[this.row] = '';
        i += 3;
      } else if (rest.startsWith('\x1b7')) {
        this.saved = [this.row, this.col];
        i += 1;
      } else if (rest.startsWith('\x1b8')) {
        if (this.saved) [this.row, this.col] = this.saved;
        i += 1;
      } else if (text[i] === '\r') this.col = 0;
      else if (text[i] === '\n') {
        this.row += 1;
        this.col = 0;
        this.rows[this.row] ??= '';
      } else {
        const line = this.rows[this.row]!.padEnd(this.col);
        this.rows[this.row] = line.slice(0, this.col) + text[i] + line.slice(this.col + 1);
        this.col += 1;
      }
    }
    return true;
  }

  screen(): string[] {
    return this.rows.filter((r, i) => r !== '' || i < this.rows.length - 1);
  }
}

const event = (over: Partial<ProgressEvent>): ProgressEvent => ({
  migrationId: 'm1',
  task: '0.backfill',
  kind: 'backfill',
  rowsDone: 0,
  rowEstimate: 1000,
  rowsPerSecond: 100,
  batches: 1,
  lastBatchMs: 10,
  batchSize: 100,
  holdReason: null,
  finished: false,
  ...over,
});

describe('the terminal progress line', () => {
  test('logs print above the line, each on its own row, and the line is redrawn below them', () => {
    const tty = new FakeTty();
    const terminal = new TerminalLine(tty);
    const log = createLogger({ level: 'info', pretty: false, write: (t) => terminal.write(t) });
    const progress = progressReporter(log, terminal);
    progress.onProgress(event({ rowsDone: 100 }));
    log.info({ step: '0.expand.add-column', lock: 'ACCESS EXCLUSIVE' }, 'first log');
    progress.onProgress(event({ rowsDone: 200 }));
    log.warn('second log');
    progress.onProgress(event({ rowsDone: 300 }));
    progress.stop();
    tty.write('after\n');

    const screen = tty.screen();
    expect(screen).toHaveLength(4);
    expect(JSON.parse(screen[0]!)).toMatchObject({ msg: 'first log', lock: 'ACCESS EXCLUSIVE' });
    expect(JSON.parse(screen[1]!)).toMatchObject({ msg: 'second log' });
    expect(screen[2]).toBe(progressLine(event({ rowsDone: 300 })));
    expect(screen[3]).toBe('after');
    // Only carriage return and erase-line: never a saved cursor position restored after a scroll.
    for (const escape of ['\x1b7', '\x1b8', '\x1b[s', '\x1b[u']) expect(tty.raw).not.toContain(escape);
  });

  test('a line wider than the terminal is cut, so it never wraps onto a row the next erase would miss', () => {
    const tty = new FakeTty();
    tty.columns = 40;
    const terminal = new TerminalLine(tty);
    terminal.show('x'.repeat(100));
    terminal.write('log');
    terminal.show('y'.repeat(100));
    expect(tty.screen()).toEqual(['log', `${'y'.repeat(38)}…`]);
  });

  test('a held backfill shows held instead of an ETA, with the reason', () => {
    const line = progressLine(event({ rowsDone: 500, holdReason: 'paused by `pgshift pause`' }));
    expect(line).toContain('ETA held');
    expect(line).toContain('HELD: paused by `pgshift pause`');
    expect(line).not.toMatch(/ETA \d/);
  });

  test('the ETA counts what is left of the estimate at the current rate', () => {
    expect(progressLine(event({ rowsDone: 400, rowEstimate: 1000, rowsPerSecond: 20 }))).toContain('ETA 30s');
    expect(formatDuration(51_120)).toBe('14h12m');
    expect(formatDuration(725)).toBe('12m05s');
  });
});
