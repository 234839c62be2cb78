import { scanSync } from 'libpg-query';
import { parseSync } from 'libpg-query';
import { assertParserLoaded, SqlTextError } from './parser.js';

export type Node = Record<string, unknown>;

/** A relation as a statement names it: `schema` is null when PostgreSQL resolves it by search_path. */
export interface RelName {
  schema: string | null;
  name: string;
}

/** One statement of a plan's raw SQL, cut out of its text by PostgreSQL's parser. */
export interface Statement {
  /** The plan field it comes from: `expand`, `dualWrite.sql`, `backfill.after`, `contract`, `rollback`. */
  field: string;
  /** 1-based, over every string of the field. */
  number: number;
  /** `expand #2`: how errors, overrides and the ledger name it. */
  label: string;
  /** Where it starts: `character 14`, or `expand[1], character 3` when the field is a list. */
  where: string;
  /** Its text, without the separating semicolon. */
  text: string;
  /** The parse node's type (`IndexStmt`, `AlterTableStmt`, …) and body. */
  kind: string;
  node: Node;
  /** Byte offset of `text` in the string it was parsed from; node locations count from that string. */
  offset: number;
}

/** Splits SQL text (a string or a list of strings, each with one or more statements) into its statements. */
export function splitStatements(field: string, sql: string | readonly string[]): Statement[] {
  assertParserLoaded();
  const parts = typeof sql === 'string' ? [sql] : sql;
  const out: Statement[] = [];
  parts.forEach((part, i) => {
    const source = typeof sql === 'string' ? field : `${field}[${i}]`;
    let tree;
    try {
      tree = parseSync(part);
    } catch (error) {
      const e = error as Error & { sqlDetails?: { cursorPosition?: number } };
      const at = e.sqlDetails?.cursorPosition;
      throw new SqlTextError(`${source}: ${e.message}${at !== undefined ? ` (at character ${at + 1})` : ''}`);
    }
    const bytes = Buffer.from(part, 'utf8');
    const stmts = tree.stmts ?? [];
    if (!stmts.length) throw new SqlTextError(`${source}: holds no SQL statement`);
    for (const raw of stmts) {
      const start = raw.stmt_location ?? 0;
      const end = raw.stmt_len ? start + raw.stmt_len : bytes.length;
      const chunk = bytes.subarray(start, end).toString('utf8');
      const lead = chunk.length - chunk.trimStart().length;
      const offset = start + Buffer.byteLength(chunk.slice(0, lead));
      const [kind, body] = Object.entries(raw.stmt as Node)[0] as [string, Node];
      const number = out.length + 1;
      const character = bytes.subarray(0, offset).toString('utf8').length + 1;
      out.push({
        field,
        number,
        label: `${field} #${number}`,
        where: typeof sql === 'string' ? `character ${character}` : `${source}, character ${character}`,
        text: chunk.trim(),
        kind,
        node: body,
        offset,
      });
    }
  });
  return out;
}

export function relName(rangeVar: unknown): RelName | null {
  const r = rangeVar as { schemaname?: string; relname?: string } | undefined;
  return r?.relname ? { schema: r.schemaname ?? null, name: r.relname } : null;
}

/** Two names may denote the same relation: same name, and the same schema where both give one. */
export function sameRel(a: RelName, b: RelName): boolean {
  return a.name === b.name && (a.schema === null || b.schema === null || a.schema === b.schema);
}

export function showRel(r: RelName): string {
  return r.schema ? `${r.schema}.${r.name}` : r.name;
}

/**
 * The statement's text with the relation named at `location` (a node location, as parsed) replaced
 * by `replacement`: the name's tokens, `schema . name` or `name`, quoted or not.
 */
export function replaceRelation(stmt: Statement, location: number, replacement: string): string {
  const bytes = Buffer.from(stmt.text, 'utf8');
  const tokens = scanSync(stmt.text).tokens;
  const at = location - stmt.offset;
  const first = tokens.findIndex((t) => t.start === at);
  if (first < 0) throw new SqlTextError(`${stmt.label}: cannot find the relation name in the statement`);
  let last = first;
  while (tokens[last + 1]?.text === '.' && tokens[last + 2]) last += 2;
  return bytes.subarray(0, tokens[first]!.start).toString('utf8') + replacement + bytes.subarray(tokens[last]!.end).toString('utf8');
}

/** The String values of a name list (`[{String: {sval}}]`). */
export function names(list: unknown): string[] {
  return ((list as Node[] | undefined) ?? []).map((n) => (n.String as { sval?: string } | undefined)?.sval ?? '');
}

/** A DROP statement's object name (a list of name parts) as a relation. */
export function dropObjectName(object: unknown): RelName | null {
  const parts = names((object as { List?: { items?: unknown } }).List?.items);
  if (parts.length === 1) return { schema: null, name: parts[0]! };
  if (parts.length === 2) return { schema: parts[0]!, name: parts[1]! };
  return null;
}

/** Whether a DefElem list (VACUUM, REINDEX options) holds the option `name`, and not as `name false`. */
export function hasOption(options: unknown, name: string): boolean {
  return ((options as Node[] | undefined) ?? []).some((o) => {
    const d = o.DefElem as { defname?: string; arg?: Node } | undefined;
    if (d?.defname !== name) return false;
    const arg = d.arg;
    if (!arg) return true;
    const text = (arg.String as { sval?: string } | undefined)?.sval ?? (arg.Boolean as { boolval?: boolean } | undefined)?.boolval;
    return !(text === false || text === 'false' || text === 'off' || text === '0');
  });
}
