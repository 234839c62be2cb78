import { readFile } from 'node:fs/promises';
import { parseSync, scanSync } from 'libpg-query';
import { glob, isDynamicPattern } from 'tinyglobby';
import { LintInputError } from '../errors.js';
import { splitStatements, type Statement } from '../sql/statements.js';

/** One SQL text to lint: a file, or standard input (`-`). */
export interface LintSource {
  /** As the user named it (a path relative to the working directory, or `-`). */
  name: string;
  text: string;
}

/** A position in a source: 1-based line and column (in characters). */
export interface Position {
  line: number;
  column: number;
}

/** A statement of a source file with where it is. */
export interface LocatedStatement {
  statement: Statement;
  start: Position;
  end: Position;
  /** Byte range in the file: from the first token (leading comments excluded) to the end of the statement. */
  startByte: number;
  endByte: number;
  /** The statement's text from its first token. */
  text: string;
}

/** A `-- pgshift-lint: allow <rule> <reason>` comment. */
export interface Suppression {
  rule: string;
  reason: string;
  at: Position;
  /** The byte where the comment ends: it applies to the first statement starting after it. */
  endByte: number;
}

export type ParsedSource =
  | { ok: true; source: LintSource; statements: LocatedStatement[]; suppressions: Suppression[] }
  | { ok: false; source: LintSource; error: string; at: Position };

/** Reads the named files (glob patterns expanded, `-` for standard input); a missing file or an empty pattern is an error. */
export async function readSources(inputs: readonly string[], stdin: () => Promise<string>): Promise<LintSource[]> {
  const out: LintSource[] = [];
  for (const input of inputs) {
    if (input === '-') {
      out.push({ name: '-', text: await stdin() });
      continue;
    }
    const files = isDynamicPattern(input) ? (await glob(input, { onlyFiles: true, expandDirectories: false })).sort() : [input];
    if (!files.length) throw new LintInputError(input, 'the pattern matches no file');
    for (const file of files) {
      try {
        out.push({ name: file, text: await readFile(file, 'utf8') });
      } catch (error) {
        throw new LintInputError(file, (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message);
      }
    }
  }
  return out;
}

/** Line and column of a byte offset in `text`. */
export function positionAt(text: string, byte: number): Position {
  const before = Buffer.from(text, 'utf8').subarray(0, byte).toString('utf8');
  const lines = before.split('\n');
  return { line: lines.length, column: lines[lines.length - 1]!.length + 1 };
}

const SUPPRESSION = /^--\s*pgshift-lint:\s*allow\b\s*(\S*)\s*(.*)$/;

/** Parses a source with PostgreSQL's parser: its statements with positions, and its suppression comments. */
export function parseSource(source: LintSource): ParsedSource {
  try {
    parseSync(source.text);
  } catch (error) {
    const e = error as Error & { sqlDetails?: { cursorPosition?: number } };
    const cursor = e.sqlDetails?.cursorPosition ?? 0;
    // cursorPosition counts characters; positions are computed on bytes.
    const byte = Buffer.byteLength(source.text.slice(0, cursor));
    return { ok: false, source, error: e.message, at: positionAt(source.text, byte) };
  }
  const statements = source.text.trim() === '' ? [] : safeSplit(source.text);
  const located = statements.map((statement): LocatedStatement => {
    const first = scanSync(statement.text).tokens.find((t) => t.tokenName !== 'SQL_COMMENT' && t.tokenName !== 'C_COMMENT');
    const lead = first?.start ?? 0;
    const startByte = statement.offset + lead;
    const endByte = statement.offset + Buffer.byteLength(statement.text);
    return {
      statement,
      start: positionAt(source.text, startByte),
      end: positionAt(source.text, endByte),
      startByte,
      endByte,
      text: Buffer.from(statement.text, 'utf8').subarray(lead).toString('utf8'),
    };
  });
  const suppressions: Suppression[] = [];
  for (const token of scanSync(source.text).tokens) {
    if (token.tokenName !== 'SQL_COMMENT') continue;
    const m = SUPPRESSION.exec(token.text.trim());
    if (m) suppressions.push({ rule: m[1]!, reason: m[2]!.trim(), at: positionAt(source.text, token.start), endByte: token.end });
  }
  return { ok: true, source, statements: located, suppressions };
}

/** A file of only comments holds no statement; splitStatements refuses that, lint reports nothing. */
function safeSplit(text: string): Statement[] {
  const tree = parseSync(text);
  return tree.stmts?.length ? splitStatements('file', text) : [];
}
