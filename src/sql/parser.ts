import { loadModule, parseSync, scanSync, type ParseResult } from 'libpg-query';

// PostgreSQL's own parser (libpg_query, compiled to WebAssembly). Loaded once, asynchronously,
// by loadParser(): the async entry points (plan loading, the orchestrator) await it, so the
// helpers below can stay synchronous and be used from pure step renderers. Not a top-level
// await, which would make `require('pgshift')` fail (ERR_REQUIRE_ASYNC_MODULE).
let loading: Promise<void> | undefined;
let loaded = false;

/** Loads the parser once; later calls return the same promise. */
export function loadParser(): Promise<void> {
  loading ??= loadModule().then(() => {
    loaded = true;
  });
  return loading;
}

/** Thrown by the synchronous helpers when called before loadParser() resolved: a programming error, not bad SQL. */
export class ParserNotLoadedError extends Error {
  constructor() {
    super('the SQL parser is not loaded yet: await loadParser() before parsing plans or rendering steps');
  }
}

/** For synchronous code that calls libpg-query itself: fails clearly instead of as a syntax error. */
export function assertParserLoaded(): void {
  if (!loaded) throw new ParserNotLoadedError();
}

/** An expression or statement PostgreSQL's parser rejects, or one pgshift cannot use where it was given. */
export class SqlTextError extends Error {}

/** Parses SQL text into statements; a syntax error names the position. */
export function parseSql(sql: string, prefixLength = 0): ParseResult {
  assertParserLoaded();
  try {
    return parseSync(sql);
  } catch (error) {
    const e = error as Error & { sqlDetails?: { cursorPosition?: number } };
    const at = e.sqlDetails?.cursorPosition;
    throw new SqlTextError(`syntax error: ${e.message}${at !== undefined ? ` (at character ${at + 1 - prefixLength})` : ''}`);
  }
}

/** A column named in an expression, with its byte range in the expression text. */
export interface ColumnRefAt {
  name: string;
  start: number;
  end: number;
}

const PREFIX = 'SELECT ';

type Node = Record<string, unknown>;

function walk(node: unknown, visit: (kind: string, body: Node) => void): void {
  if (Array.isArray(node)) {
    for (const item of node) walk(item, visit);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node as Node)) {
    if (/^[A-Z]/.test(key) && value !== null && typeof value === 'object' && !Array.isArray(value)) visit(key, value as Node);
    walk(value, visit);
  }
}

/**
 * Parses one scalar SQL expression over a row (as in `ALTER COLUMN ... USING`, a CHECK, a
 * generated column) and lists the columns it names. Refused, with the reason: anything that is
 * not exactly one expression (a second statement, `FROM`, an alias), subqueries, and qualified
 * or `*` column references, whose meaning would change once the expression runs in a trigger.
 */
export function expressionColumns(expression: string): ColumnRefAt[] {
  const sql = PREFIX + expression;
  const tree = parseSql(sql, PREFIX.length);
  const [first, ...rest] = tree.stmts ?? [];
  const select = (first?.stmt as { SelectStmt?: Node } | undefined)?.SelectStmt;
  if (!first || rest.length || !select) throw new SqlTextError('must be a single SQL expression');
  const extra = Object.keys(select).filter((k) => k !== 'targetList' && k !== 'limitOption' && k !== 'op');
  const targets = select.targetList as Node[] | undefined;
  if (extra.length || targets?.length !== 1) throw new SqlTextError('must be a single SQL expression (no FROM, WHERE, or list)');
  if ((targets[0]!.ResTarget as Node | undefined)?.name !== undefined)
    throw new SqlTextError('must be a single SQL expression without an alias');
  if (first.stmt_len !== undefined && first.stmt_len !== 0 && first.stmt_len < Buffer.byteLength(sql))
    throw new SqlTextError('must be a single SQL expression');

  const tokens = scanSync(sql).tokens;
  const offset = Buffer.byteLength(PREFIX);
  const refs: ColumnRefAt[] = [];
  walk(targets, (kind, body) => {
    if (kind === 'SubLink') throw new SqlTextError('subqueries are not supported here; use a function if the value needs another table');
    if (kind !== 'ColumnRef') return;
    const fields = body.fields as Node[];
    const names = fields.map((f) => (f.String as { sval?: string } | undefined)?.sval);
    if (names.some((n) => n === undefined)) throw new SqlTextError('"*" is not supported here; name the columns');
    if (names.length !== 1) throw new SqlTextError(`refer to columns unqualified (found ${names.join('.')})`);
    const location = body.location as number;
    const token = tokens.find((t) => t.start === location);
    if (!token) throw new SqlTextError(`cannot locate column ${names[0]} in the expression`);
    refs.push({ name: names[0]!, start: token.start - offset, end: token.end - offset });
  });
  return refs.sort((a, b) => a.start - b.start);
}

/**
 * Rewrites the column references of an expression: each is replaced by what `replace` returns
 * for its name (kept when it returns null). E.g. prefixing `NEW.` to run it in a row trigger.
 */
export function rewriteColumns(expression: string, replace: (column: string) => string | null): string {
  const bytes = Buffer.from(expression, 'utf8');
  let out = '';
  let at = 0;
  for (const ref of expressionColumns(expression)) {
    const replacement = replace(ref.name);
    if (replacement === null) continue;
    out += bytes.subarray(at, ref.start).toString('utf8') + replacement;
    at = ref.end;
  }
  return out + bytes.subarray(at).toString('utf8');
}
