/** What the terminal writer needs of a stream: process.stderr, or a stand-in in tests. */
export interface TerminalStream {
  write(text: string): unknown;
  /** Width in characters, when known (a TTY). */
  columns?: number;
}

const ERASE_LINE = '\r\x1b[2K';

/**
 * One status line (the progress bar) at the bottom of a terminal, with logs printed above it.
 * The line is only ever erased and rewritten in place (carriage return, erase line): no saved
 * cursor position is restored, which would land on the wrong row once output has scrolled. It is
 * cut to the terminal width, so it never wraps onto a second row that a later erase would miss.
 */
export class TerminalLine {
  private line: string | null = null;

  constructor(private readonly stream: TerminalStream) {}

  /** Shows `text` as the status line, replacing the previous one. */
  show(text: string): void {
    this.line = this.fit(text);
    this.stream.write(`${ERASE_LINE}${this.line}`);
  }

  /** Prints `text` (one or more lines) above the status line, which is drawn again below it. */
  write(text: string): void {
    const out = text.endsWith('\n') ? text : `${text}\n`;
    if (this.line === null) {
      this.stream.write(out);
      return;
    }
    this.stream.write(`${ERASE_LINE}${out}${this.line}`);
  }

  /** Leaves the status line in the scrollback as an ordinary line; later output starts below it. */
  done(): void {
    if (this.line === null) return;
    this.line = null;
    this.stream.write('\n');
  }

  private fit(text: string): string {
    const width = this.stream.columns;
    if (!width || text.length < width) return text;
    return `${text.slice(0, Math.max(0, width - 2))}…`;
  }
}
