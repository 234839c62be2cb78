import type { Queryable } from '../db/queryable.js';
import { queryRows } from '../db/queryable.js';
import { refusals } from '../operations/blocks/custom-inspect.js';
import { runModeOf } from '../operations/blocks/custom-sql.js';
import { ident, qualified } from '../sql/ident.js';
import { lintStatements, type Finding } from '../sql/lint.js';
import { names, relName, sameRel, showRel, type Node, type RelName, type Statement } from '../sql/statements.js';
import { safeAlternative, type SafeAlternative } from './alternatives.js';
import { ruleInfo, isRuleId, type LintRuleId, type Severity } from './rules.js';
import { parseSource, type LintSource, type LocatedStatement, type Position } from './source.js';

export interface LintOptions {
  /** The migration tool runs each file in one transaction (Flyway, Django, Rails, node-pg-migrate). */
  assumeTransaction?: boolean;
  /** A live database: existence, sizes, types and PostgreSQL's own rewrite verdict replace the assumptions. */
  db?: Queryable;
  /** With `db`: a blocking finding on a table at least this big (pg_total_relation_size) is an error, below it a warning. */
  bigTableBytes?: number;
}

export interface LintFinding {
  rule: LintRuleId;
  severity: Severity;
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  /** The statement's text (empty for a file that does not parse). */
  statement: string;
  /** What in the statement is at fault. */
  detail: string;
  why: string;
  alternative: string;
  /** The pgshift operation that does it safely, filled from the statement. */
  safe?: SafeAlternative;
  /** What the verdict rests on when no catalog told (e.g. that the table exists and is big). */
  assumed?: string;
  /** What the catalog said: the table and its size. */
  table?: { name: string; bytes: number };
}

export interface SuppressedFinding extends LintFinding {
  reason: string;
}

export interface LintReport {
  files: { file: string; statements: number; parsed: boolean }[];
  findings: LintFinding[];
  suppressed: SuppressedFinding[];
  catalog: boolean;
  bigTableBytes: number;
  assumeTransaction: boolean;
  errors: number;
  warnings: number;
  /** 0 clean (warnings only), 3 an error-level finding, 2 a file that does not parse. */
  exitCode: 0 | 2 | 3;
}

export const DEFAULT_BIG_TABLE_BYTES = 10 * 1024 * 1024;

/** Tables migration tools keep their own bookkeeping in: tiny, written by the tool in every migration. */
const TOOL_TABLES = [
  'alembic_version',
  'flyway_schema_history',
  '_prisma_migrations',
  'django_migrations',
  'schema_migrations',
  'ar_internal_metadata',
  'pgmigrations',
  'knex_migrations',
  'typeorm_migrations',
  'goose_db_version',
  'schema_version',
];

function toolTable(r: RelName): boolean {
  return TOOL_TABLES.includes(r.name);
}

const LOCK_RANK = [
  'none',
  'ACCESS SHARE',
  'ROW SHARE',
  'ROW EXCLUSIVE',
  'SHARE UPDATE EXCLUSIVE',
  'SHARE',
  'SHARE ROW EXCLUSIVE',
  'EXCLUSIVE',
  'ACCESS EXCLUSIVE',
];
const SHARE_RANK = LOCK_RANK.indexOf('SHARE');

/** Functions whose result does not change within a statement: a default calling only these does not rewrite the table. */
const NOT_VOLATILE = new Set([
  'now',
  'transaction_timestamp',
  'statement_timestamp',
  'current_setting',
  'lower',
  'upper',
  'length',
  'abs',
  'round',
  'concat',
  'jsonb_build_object',
  'json_build_object',
  'jsonb_build_array',
  'to_jsonb',
  'to_json',
  'make_interval',
  'to_timestamp',
  'date_trunc',
  'array_fill',
]);

/** Without a catalog: does the ADD COLUMN of `stmt` rewrite? Generated and identity columns do; a default does when it calls a function not known to be non-volatile. */
function addColumnRewritesStatically(stmt: Statement): boolean {
  for (const item of (stmt.node.cmds as Node[] | undefined) ?? []) {
    const cmd = item.AlterTableCmd as { subtype?: string; def?: Node } | undefined;
    if (cmd?.subtype !== 'AT_AddColumn') continue;
    for (const c of (cmd.def?.ColumnDef as { constraints?: Node[] } | undefined)?.constraints ?? []) {
      const con = c.Constraint as { contype?: string; raw_expr?: unknown };
      if (con.contype === 'CONSTR_GENERATED' || con.contype === 'CONSTR_IDENTITY') return true;
      if (con.contype === 'CONSTR_DEFAULT' && callsVolatile(con.raw_expr)) return true;
    }
  }
  return false;
}

function callsVolatile(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(callsVolatile);
  if (node === null || typeof node !== 'object') return false;
  for (const [key, value] of Object.entries(node as Node)) {
    if (key === 'FuncCall') {
      const fn = names((value as { funcname?: unknown }).funcname);
      if (!NOT_VOLATILE.has(fn[fn.length - 1] ?? '')) return true;
    }
    if (key === 'SubLink') return true;
    if (callsVolatile(value)) return true;
  }
  return false;
}

function relText(r: RelName): string {
  return r.schema ? qualified(r.schema, r.name) : ident(r.name);
}

async function tableBytes(db: Queryable, r: RelName): Promise<{ name: string; bytes: number } | null> {
  const [row] = await queryRows<{ name: string; bytes: string }>(
    db,
    `SELECT n.nspname || '.' || c.relname AS name, pg_catalog.pg_total_relation_size(c.oid)::text AS bytes
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = pg_catalog.to_regclass($1)`,
    [relText(r)],
  );
  return row ? { name: row.name, bytes: Number(row.bytes) } : null;
}

function tablesOf(f: Finding): RelName[] {
  const w = f.when;
  return w.kind === 'existing' ? w.relations : w.kind === 'always' ? [] : [w.table];
}

function formatBytes(n: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

interface Pending {
  rule: LintRuleId;
  stmt: LocatedStatement | null;
  at?: { start: Position; end: Position };
  detail: string;
  severity: Severity;
  assumed?: string;
  table?: { name: string; bytes: number };
  why?: string;
}

function severityOf(rule: LintRuleId): Severity {
  return ruleInfo(rule).weight === 'advice' ? 'warning' : 'error';
}

/** The findings of the shared (custom-operation) rules, decided on the catalog when there is one, else on stated assumptions. */
async function sharedFindings(located: LocatedStatement[], options: LintOptions): Promise<Pending[]> {
  const statements = located.map((l) => l.statement);
  const byStatement = new Map(located.map((l) => [l.statement, l]));
  const lint = lintStatements(statements);
  // A migration tool's bookkeeping (UPDATE alembic_version …) is not the migration.
  for (const [s, list] of lint.findings) {
    const kept = list.filter((f) => !(tablesOf(f).length && tablesOf(f).every(toolTable)));
    if (kept.length) lint.findings.set(s, kept);
    else lint.findings.delete(s);
  }
  const out: Pending[] = [];
  if (options.db) {
    const big = options.bigTableBytes ?? DEFAULT_BIG_TABLE_BYTES;
    for (const r of await refusals(options.db, statements, lint.findings)) {
      const rule = r.finding.rule;
      let table: { name: string; bytes: number } | undefined;
      for (const rel of tablesOf(r.finding)) {
        const t = await tableBytes(options.db, rel);
        if (t) {
          table = t;
          break;
        }
      }
      const blocking = ruleInfo(rule).weight === 'blocking';
      const small = blocking && table !== undefined && table.bytes < big;
      out.push({
        rule,
        stmt: byStatement.get(r.statement)!,
        detail: `${r.finding.detail}${r.extra ? ` (${r.extra})` : ''}`,
        severity: small ? 'warning' : severityOf(rule),
        ...(table ? { table } : {}),
        ...(small
          ? { assumed: `${table!.name} is ${formatBytes(table!.bytes)}, under --big-table ${formatBytes(big)}: a warning, not an error` }
          : {}),
      });
    }
    return out;
  }
  for (const [statement, list] of lint.findings) {
    for (const f of list) {
      let assumed: string | undefined;
      const w = f.when;
      if (w.kind === 'existing')
        assumed = `${w.relations.map(showRel).join(', ')} taken to exist and be big (no --database-url; tables the file creates are known to be new)`;
      else if (w.kind === 'notNull')
        assumed = `no validated CHECK (${w.column} IS NOT NULL) on ${showRel(w.table)} taken to exist (no --database-url)`;
      else if (w.kind === 'rewrites') {
        if (f.rule === 'add-column-rewrite') {
          if (!addColumnRewritesStatically(statement)) continue;
          assumed = `volatility from pgshift's list of built-in functions (no --database-url): a default calling anything else is taken to rewrite ${showRel(w.table)}`;
        } else
          assumed = `the column's current type is unknown without --database-url: the change is taken to rewrite ${showRel(w.table)} (varchar(n) → text would not)`;
      }
      out.push({
        rule: f.rule,
        stmt: byStatement.get(statement)!,
        detail: f.detail,
        severity: severityOf(f.rule),
        ...(assumed ? { assumed } : {}),
      });
    }
  }
  return out;
}

function typeNameOf(def: Node | undefined): { name: string; typmods: boolean } | null {
  const t = (def?.ColumnDef as { typeName?: { names?: unknown; typmods?: unknown[] } } | undefined)?.typeName;
  if (!t) return null;
  const parts = names(t.names);
  return { name: parts[parts.length - 1] ?? '', typmods: (t.typmods ?? []).length > 0 };
}

/** The column definitions a statement declares or retypes. */
function columnDefs(stmt: Statement): Node[] {
  const n = stmt.node;
  if (stmt.kind === 'CreateStmt') return ((n.tableElts as Node[] | undefined) ?? []).filter((e) => e.ColumnDef);
  if (stmt.kind !== 'AlterTableStmt') return [];
  return ((n.cmds as Node[] | undefined) ?? [])
    .map((c) => c.AlterTableCmd as { subtype?: string; def?: Node })
    .filter((c) => c.subtype === 'AT_AddColumn' || c.subtype === 'AT_AlterColumnType')
    .map((c) => c.def!)
    .filter(Boolean);
}

const SERIALS = ['serial', 'serial4', 'bigserial', 'serial8', 'smallserial', 'serial2'];

function typeFindings(l: LocatedStatement): Pending[] {
  const out: Pending[] = [];
  const table = relName(l.statement.node.relation);
  if (table && toolTable(table)) return out;
  for (const def of columnDefs(l.statement)) {
    const type = typeNameOf(def);
    if (!type) continue;
    const col = (def.ColumnDef as { colname?: string }).colname ?? (l.statement.kind === 'AlterTableStmt' ? '' : '?');
    const what = `column ${col}`.trim();
    if (['int4', 'int2', 'serial', 'serial4', 'smallserial', 'serial2'].includes(type.name))
      out.push({ rule: 'prefer-bigint', stmt: l, detail: `${what}: ${type.name}`, severity: 'warning' });
    if (SERIALS.includes(type.name)) out.push({ rule: 'prefer-identity', stmt: l, detail: `${what}: ${type.name}`, severity: 'warning' });
    if (type.name === 'varchar' && type.typmods)
      out.push({ rule: 'prefer-text', stmt: l, detail: `${what}: varchar(n)`, severity: 'warning' });
    if (type.name === 'timestamp')
      out.push({ rule: 'prefer-timestamptz', stmt: l, detail: `${what}: timestamp without time zone`, severity: 'warning' });
    if (type.name === 'bpchar') out.push({ rule: 'char-type', stmt: l, detail: `${what}: char`, severity: 'warning' });
  }
  return out;
}

/** Statements that take long on a big table (a scan, a rewrite, a bulk write). */
function isLong(stmt: Statement, shared: readonly Pending[]): RelName | null {
  const n = stmt.node;
  const target = relName(n.relation);
  switch (stmt.kind) {
    case 'UpdateStmt':
    case 'DeleteStmt':
    case 'MergeStmt':
    case 'IndexStmt':
    case 'ClusterStmt':
    case 'RefreshMatViewStmt':
      return target;
    case 'InsertStmt':
      return (n.selectStmt as { SelectStmt?: { fromClause?: unknown } } | undefined)?.SelectStmt?.fromClause ? target : null;
    case 'CreateTableAsStmt':
      return relName((n.into as { rel?: unknown } | undefined)?.rel);
    case 'AlterTableStmt': {
      const validates = ((n.cmds as Node[] | undefined) ?? []).some(
        (c) => (c.AlterTableCmd as { subtype?: string }).subtype === 'AT_ValidateConstraint',
      );
      const scans = shared.some((p) =>
        ['add-column-rewrite', 'alter-type-rewrite', 'set-not-null', 'constraint-not-valid', 'index-constraint'].includes(p.rule),
      );
      return validates || scans ? target : null;
    }
    default:
      return null;
  }
}

function createdBy(stmt: Statement): RelName | null {
  const n = stmt.node;
  if (stmt.kind === 'CreateStmt') return relName(n.relation);
  if (stmt.kind === 'CreateTableAsStmt') return relName((n.into as { rel?: unknown } | undefined)?.rel);
  return null;
}

/** Rules over the order of the file: transactions, locks held across statements, lock_timeout. */
function orderFindings(located: LocatedStatement[], shared: readonly Pending[], options: LintOptions, eof: Position): Pending[] {
  const out: Pending[] = [];
  const created: RelName[] = [];
  const isNew = (r: RelName) => created.some((c) => sameRel(c, r));
  let explicit: LocatedStatement | null = null;
  let held: { table: RelName; lock: string; by: LocatedStatement }[] = [];
  let lockTimeoutSet = false;
  let lockTimeoutReported = false;
  for (const l of located) {
    const s = l.statement;
    const n = s.node;
    const inTx = explicit !== null || options.assumeTransaction === true;
    if (s.kind === 'TransactionStmt') {
      const kind = n.kind as string;
      if (kind === 'TRANS_STMT_BEGIN' || kind === 'TRANS_STMT_START') {
        if (inTx)
          out.push({
            rule: 'transaction-nesting',
            stmt: l,
            detail: explicit
              ? `BEGIN inside the transaction opened at line ${explicit.start.line}`
              : 'BEGIN inside the migration tool’s transaction (--assume-transaction)',
            severity: 'warning',
          });
        explicit = l;
      } else if (kind === 'TRANS_STMT_COMMIT' || kind === 'TRANS_STMT_ROLLBACK') {
        explicit = null;
        held = [];
      }
      continue;
    }
    if (s.kind === 'VariableSetStmt' && n.name === 'lock_timeout') lockTimeoutSet = n.kind !== 'VAR_RESET';
    const mode = runModeOf(s);
    if (inTx && mode.tx === 'none')
      out.push({
        rule: 'concurrently-in-transaction',
        stmt: l,
        detail: `${s.kind.replace('Stmt', '')} cannot run inside a transaction block${explicit ? ` (opened at line ${explicit.start.line})` : ' (the tool’s, --assume-transaction)'}`,
        severity: 'error',
      });
    const mine = shared.filter((p) => p.stmt === l);
    const long = isLong(s, mine);
    if (inTx && long && !toolTable(long) && !(isNew(long) && s.kind !== 'InsertStmt' && s.kind !== 'CreateTableAsStmt')) {
      const earlier = held[0];
      if (earlier)
        out.push({
          rule: 'lock-held',
          stmt: l,
          detail: `${earlier.lock} on ${showRel(earlier.table)}, taken at line ${earlier.by.start.line}, is held until COMMIT while this runs`,
          severity: 'error',
        });
    }
    const table = mode.table;
    const strong = table && LOCK_RANK.indexOf(mode.lock) >= SHARE_RANK && !isNew(table) && !toolTable(table);
    if (strong && !lockTimeoutSet && !lockTimeoutReported) {
      out.push({
        rule: 'lock-timeout',
        stmt: l,
        detail: `${mode.lock} on ${showRel(table)} with no SET lock_timeout before it`,
        severity: 'warning',
      });
      lockTimeoutReported = true;
    }
    if (strong && inTx && mode.tx !== 'none') held.push({ table, lock: mode.lock, by: l });
    const made = createdBy(s);
    if (made) created.push(made);
  }
  if (explicit)
    out.push({
      rule: 'uncommitted-transaction',
      stmt: explicit,
      detail: `the transaction opened at line ${explicit.start.line} is still open at the end of the file (line ${eof.line})`,
      severity: 'error',
    });
  return out;
}

function domainFindings(located: LocatedStatement[]): Pending[] {
  return located
    .filter((l) => l.statement.kind === 'CreateDomainStmt' && ((l.statement.node.constraints as unknown[] | undefined) ?? []).length > 0)
    .map((l) => ({
      rule: 'create-domain-constraint' as const,
      stmt: l,
      detail: `CREATE DOMAIN ${names(l.statement.node.domainname).join('.')} with a constraint`,
      severity: 'warning' as const,
    }));
}

function toFinding(file: string, p: Pending): LintFinding {
  const info = ruleInfo(p.rule);
  const start = p.at?.start ?? p.stmt!.start;
  const end = p.at?.end ?? p.stmt!.end;
  const safe = p.stmt ? safeAlternative(p.rule, p.stmt.statement) : null;
  return {
    rule: p.rule,
    severity: p.severity,
    file,
    line: start.line,
    column: start.column,
    endLine: end.line,
    endColumn: end.column,
    statement: p.stmt?.text ?? '',
    detail: p.detail,
    why: p.why ?? info.why,
    alternative: info.alternative,
    ...(safe ? { safe } : {}),
    ...(p.assumed ? { assumed: p.assumed } : {}),
    ...(p.table ? { table: p.table } : {}),
  };
}

const FINDING_ORDER = (a: LintFinding, b: LintFinding) => a.line - b.line || a.column - b.column || a.rule.localeCompare(b.rule);

/** Lints SQL files as a migration tool would run them: each file on its own, statements in order. */
export async function lintSources(sources: readonly LintSource[], options: LintOptions = {}): Promise<LintReport> {
  const report: LintReport = {
    files: [],
    findings: [],
    suppressed: [],
    catalog: options.db !== undefined,
    bigTableBytes: options.bigTableBytes ?? DEFAULT_BIG_TABLE_BYTES,
    assumeTransaction: options.assumeTransaction === true,
    errors: 0,
    warnings: 0,
    exitCode: 0,
  };
  let unparsable = false;
  for (const source of sources) {
    const parsed = parseSource(source);
    if (!parsed.ok) {
      unparsable = true;
      report.files.push({ file: source.name, statements: 0, parsed: false });
      report.findings.push(
        toFinding(source.name, {
          rule: 'syntax-error',
          stmt: null,
          at: { start: parsed.at, end: { ...parsed.at, column: parsed.at.column + 1 } },
          detail: parsed.error,
          severity: 'error',
        }),
      );
      continue;
    }
    report.files.push({ file: source.name, statements: parsed.statements.length, parsed: true });
    const located = parsed.statements;
    const shared = await sharedFindings(located, options);
    const eof = located.length ? located[located.length - 1]!.end : { line: 1, column: 1 };
    const pending = [
      ...shared,
      ...located.flatMap(typeFindings),
      ...domainFindings(located),
      ...orderFindings(located, shared, options, eof),
    ];
    const used = new Set<number>();
    const fileFindings: LintFinding[] = [];
    for (const p of pending) {
      const finding = toFinding(source.name, p);
      const index = parsed.suppressions.findIndex(
        (s) => s.rule === p.rule && s.reason !== '' && p.stmt && located.find((l) => l.startByte >= s.endByte) === p.stmt,
      );
      if (index >= 0) {
        used.add(index);
        report.suppressed.push({ ...finding, reason: parsed.suppressions[index]!.reason });
      } else fileFindings.push(finding);
    }
    parsed.suppressions.forEach((s, i) => {
      const at = { start: s.at, end: { line: s.at.line, column: s.at.column + 2 } };
      if (!isRuleId(s.rule) || s.reason === '')
        fileFindings.push(
          toFinding(source.name, {
            rule: 'invalid-suppression',
            stmt: null,
            at,
            detail: !isRuleId(s.rule) ? `unknown rule ${JSON.stringify(s.rule)}` : `no reason given for allowing ${s.rule}`,
            severity: 'error',
          }),
        );
      else if (!used.has(i))
        fileFindings.push(
          toFinding(source.name, {
            rule: 'unused-suppression',
            stmt: null,
            at,
            detail: `nothing on the next statement is flagged by ${s.rule}`,
            severity: 'warning',
          }),
        );
    });
    report.findings.push(...fileFindings.sort(FINDING_ORDER));
  }
  report.errors = report.findings.filter((f) => f.severity === 'error').length;
  report.warnings = report.findings.length - report.errors;
  report.exitCode = unparsable ? 2 : report.errors ? 3 : 0;
  return report;
}
