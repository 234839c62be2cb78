import { describe, expect, test } from 'vitest';
import { TerminalBlock } from '../../src/cli/terminal.js';

/**
 * A fake terminal of `rows` rows: applies new lines, carriage return, cursor to a previous line (which stops
 * at the top of the screen, as a real terminal's does) and erase to the end of the screen. Rows
 * that scroll off the top go to the scrollback, which a redraw can no longer reach.
 */
class Screen {
  scrollback: string[] = [];
  screen: string[] = [''];
  row = 0;
  col = 0;
  constructor(
    readonly columns: number,
    readonly rows: number,
  ) {}

  write(text: string): boolean {
    for (let i = 0; i < text.length; i++) {
      const up = new RegExp(`^${String.fromCharCode(27)}\\[(\\d+)F`).exec(text.slice(i));
      if (up) {
        this.row = Math.max(0, this.row - Number(up[1]));
        this.col = 0;
        i += up[0].length - 1;
      } else if (text.startsWith('\x1b[0J', i)) {
        this.screen = this.screen.slice(0, this.row + 1);
        this.screen[this.row] = this.screen[this.row]!.slice(0, this.col);
        i += 3;
      } else if (text[i] === '\r') this.col = 0;
      else if (text[i] === '\n') {
        this.row += 1;
        this.col = 0;
        this.screen[this.row] ??= '';
        if (this.screen.length > this.rows) {
          this.scrollback.push(this.screen.shift()!);
          this.row -= 1;
        }
      } else {
        const line = this.screen[this.row]!.padEnd(this.col);
        this.screen[this.row] = line.slice(0, this.col) + text[i] + line.slice(this.col + 1);
        this.col += 1;
      }
    }
    return true;
  }

  get all(): string[] {
    return [...this.scrollback, ...this.screen];
  }
}

describe('the fleet live table (TerminalBlock)', () => {
  test('redraws in place; logs go above it; the scrollback holds only the logs and the final table', () => {
    const tty = new Screen(80, 10);
    const block = new TerminalBlock(tty);
    block.show(['target  state', 'a       expand…', 'b       waiting']);
    block.show(['target  state', 'a       advanced', 'b       expand…']);
    block.write('halt: a failed');
    block.show(['target  state', 'a       advanced', 'b       failed']);
    block.done();
    tty.write('result\n');
    expect(tty.all.filter((l) => l !== '')).toEqual(['halt: a failed', 'target  state', 'a       advanced', 'b       failed', 'result']);
  });

  test('a table taller than the screen is cut (so the cursor never goes into the scrollback), lines are cut to the width', () => {
    const tty = new Screen(20, 6);
    const block = new TerminalBlock(tty);
    for (let round = 0; round < 3; round++) {
      block.write(`log ${round}`);
      block.show(Array.from({ length: 12 }, (_, i) => `row ${i} ${'x'.repeat(30)} ${round}`));
    }
    block.done();
    const all = tty.all.filter((l) => l !== '');
    expect(all.filter((l) => l.startsWith('log'))).toEqual(['log 0', 'log 1', 'log 2']);
    // Only the last drawing is left, and it fits: 3 rows and a "more" line.
    expect(all.filter((l) => l.startsWith('row'))).toHaveLength(3);
    expect(all.filter((l) => l.startsWith('row')).every((l) => l.endsWith('…') && l.length < 20)).toBe(true);
    expect(all[all.length - 1]).toBe('… 9 more');
  });
});
