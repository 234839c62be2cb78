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

/**
 * A block of status lines (the fleet's live table) at the bottom of a terminal, with logs printed
 * above it. Redrawn by moving the cursor up to the block's first line and erasing to the end of the screen.
 * The block is kept shorter than the terminal and every line shorter than its width, so the cursor
 * never has to move into the scrollback, where a redraw would overwrite history.
 */
export class TerminalBlock {
  private lines: string[] = [];
  private drawn = 0;

  /** `rows`: the terminal's height, when known (a TTY). */
  constructor(private readonly stream: TerminalStream & { rows?: number }) {}

  /** Shows `lines` as the block, replacing the previous one. */
  show(lines: readonly string[]): void {
    const room = Math.max(1, (this.stream.rows || 24) - 2);
    const kept = lines.length > room ? [...lines.slice(0, room - 1), `… ${lines.length - room + 1} more`] : [...lines];
    this.lines = kept.map((l) => this.fit(l));
    this.stream.write(`${this.erase()}${this.render()}`);
  }

  /** Prints `text` above the block, which is drawn again below it. */
  write(text: string): void {
    const out = text.endsWith('\n') ? text : `${text}\n`;
    this.stream.write(`${this.erase()}${out}${this.render()}`);
  }

  /** Leaves the block in the scrollback as ordinary lines; later output starts below it. */
  done(): void {
    this.lines = [];
    this.drawn = 0;
  }

  private erase(): string {
    // Cursor to the start of the block's first line (CSI F), then erase to the end of the screen.
    return this.drawn ? `\x1b[${this.drawn}F\x1b[0J` : '';
  }

  private render(): string {
    this.drawn = this.lines.length;
    return this.lines.map((l) => `${l}\n`).join('');
  }

  private fit(text: string): string {
    const width = this.stream.columns;
    if (!width || text.length < width) return text;
    return `${text.slice(0, Math.max(0, width - 2))}…`;
  }
}
