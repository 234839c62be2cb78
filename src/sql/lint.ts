import { parseSql } from './parser.js';
import { dropObjectName, hasOption, relName, sameRel, showRel, type Node, type RelName, type Statement } from './statements.js';

/**
 * What the raw SQL of a `custom` operation may not do to a live table, one rule per entry: what it
 * refuses, why (the lock or rewrite), and what to write instead. A plan sets a rule aside for one
 * statement with `allow` and a reason.
 */
export const LINT_RULES = [
  {
    id: 'create-index',
    refuses: 'CREATE INDEX without CONCURRENTLY on an existing table',
    why: 'it holds a SHARE lock on the table for the whole build: every INSERT, UPDATE and DELETE waits',
    alternative: 'use CREATE INDEX CONCURRENTLY (pgshift runs it outside a transaction), or the createIndex operation',
  },
  {
    id: 'drop-index',
    refuses: 'DROP INDEX without CONCURRENTLY on an existing index',
    why: 'it takes ACCESS EXCLUSIVE on the table: reads and writes queue behind it, and it waits for every query using the table',
    alternative: 'use DROP INDEX CONCURRENTLY (pgshift runs it outside a transaction), or the dropIndex operation',
  },
  {
    id: 'add-column-rewrite',
    refuses: 'ADD COLUMN that rewrites the table (a volatile default, a stored generated or an identity column)',
    why: 'PostgreSQL rewrites every row under ACCESS EXCLUSIVE: the table is unreadable and unwritable until it is done',
    alternative: 'add the column without the default, SET DEFAULT for new rows, and fill existing rows with backfill.set (or use the addColumn operation)',
  },
  {
    id: 'alter-type-rewrite',
    refuses: 'ALTER COLUMN TYPE that rewrites the table (not binary-coercible, e.g. int → bigint)',
    why: 'PostgreSQL rewrites every row and rebuilds its indexes under ACCESS EXCLUSIVE',
    alternative: 'add a column of the new type, keep it in sync with dualWrite.trigger, fill it with backfill.set, and swap at contract (or use the changeColumnType operation)',
  },
  {
    id: 'set-not-null',
    refuses: 'SET NOT NULL (or a NOT NULL constraint) without a validated CHECK (column IS NOT NULL)',
    why: 'it scans the whole table under ACCESS EXCLUSIVE to prove there is no NULL',
    alternative: 'first ADD CONSTRAINT … CHECK (column IS NOT NULL) NOT VALID and VALIDATE CONSTRAINT it (PostgreSQL then skips the scan), or use the setNotNull operation',
  },
  {
    id: 'constraint-not-valid',
    refuses: 'ADD CONSTRAINT CHECK / FOREIGN KEY (or a column CHECK / REFERENCES) without NOT VALID on an existing table',
    why: 'it checks every row while holding ACCESS EXCLUSIVE (CHECK) or SHARE ROW EXCLUSIVE on both tables (FOREIGN KEY): writes wait for the whole scan',
    alternative: 'add it NOT VALID, then VALIDATE CONSTRAINT in a later statement (SHARE UPDATE EXCLUSIVE, writes go on), or use the addCheck / addForeignKey operation',
  },
  {
    id: 'index-constraint',
    refuses: 'ADD PRIMARY KEY / UNIQUE not USING INDEX, and EXCLUDE, on an existing table',
    why: 'it builds the index while holding ACCESS EXCLUSIVE: the table is unreadable and unwritable for the whole build',
    alternative: 'CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT … PRIMARY KEY / UNIQUE USING INDEX (or use the addUnique operation)',
  },
  {
    id: 'vacuum-full',
    refuses: 'VACUUM FULL',
    why: 'it rewrites the table under ACCESS EXCLUSIVE',
    alternative: 'plain VACUUM, or pg_repack / pg_squeeze outside pgshift',
  },
  {
    id: 'cluster',
    refuses: 'CLUSTER',
    why: 'it rewrites the table in index order under ACCESS EXCLUSIVE',
    alternative: 'pg_repack --order-by outside pgshift, or leave the order to time',
  },
  {
    id: 'reindex',
    refuses: 'REINDEX without CONCURRENTLY',
    why: 'it blocks writes to the table (SHARE) and every query that would use the index (ACCESS EXCLUSIVE on it) for the whole rebuild',
    alternative: 'use REINDEX … CONCURRENTLY (pgshift runs it outside a transaction)',
  },
  {
    id: 'lock-table',
    refuses: 'LOCK TABLE in SHARE mode or stronger on an existing table',
    why: 'the lock blocks writes (or reads) until the phase transaction commits',
    alternative: 'leave locking to the statements that need it; pgshift already takes each with lock_timeout and retries',
  },
  {
    id: 'refresh-materialized-view',
    refuses: 'REFRESH MATERIALIZED VIEW without CONCURRENTLY on an existing view',
    why: 'it holds ACCESS EXCLUSIVE on the view while the query runs: every read of it waits',
    alternative: 'use REFRESH MATERIALIZED VIEW CONCURRENTLY (needs a unique index on the view)',
  },
  {
    id: 'set-tablespace',
    refuses: 'ALTER TABLE / INDEX / MATERIALIZED VIEW … SET TABLESPACE (and ALL IN TABLESPACE)',
    why: 'it copies every file of the relation under ACCESS EXCLUSIVE',
    alternative: 'pg_repack --tablespace outside pgshift',
  },
  {
    id: 'rewrite-table',
    refuses: 'ALTER TABLE … SET LOGGED / SET UNLOGGED / SET ACCESS METHOD on an existing table',
    why: 'it rewrites the table under ACCESS EXCLUSIVE',
    alternative: 'create the new table beside the old one and move the rows in batches',
  },
  {
    id: 'truncate',
    refuses: 'TRUNCATE of an existing table',
    why: 'it takes ACCESS EXCLUSIVE and removes every row at once, also for transactions that started earlier (it is not MVCC-safe)',
    alternative: 'DELETE in batches, or allow it for a table only this migration writes',
  },
  {
    id: 'update-delete',
    refuses: 'UPDATE / DELETE / MERGE of an existing table',
    why: 'it locks every row it touches until the phase transaction commits, under the phase statement_timeout, in one huge WAL burst',
    alternative: 'use backfill.set (keyset batches, throttled, resumable), or allow it for a small table',
  },
  {
    id: 'opaque-code',
    refuses: 'DO blocks and CALL',
    why: 'pgshift cannot see the statements they run, so none of these rules can check them',
    alternative: 'write the statements as plain SQL, or check the code yourself and allow it',
  },
] as const;

export type LintRule = (typeof LINT_RULES)[number];
export type RuleId = LintRule['id'];
export const RULE_IDS = LINT_RULES.map((r) => r.id) as [RuleId, ...RuleId[]];

export function ruleOf(id: RuleId): LintRule {
  return LINT_RULES.find((r) => r.id === id)!;
}

/**
 * When a finding is a refusal: always; if one of the relations existed before the operation; if
 * the statement rewrites its table (PostgreSQL's verdict, tried on an empty copy); if nothing
 * proves the column holds no NULL.
 */
export type Condition =
  | { kind: 'always' }
  | { kind: 'existing'; relations: RelName[] }
  | { kind: 'rewrites'; table: RelName; location: number }
  | { kind: 'notNull'; table: RelName; column: string };

export interface Finding {
  rule: RuleId;
  /** The part of the statement at fault, e.g. `ADD COLUMN b`. */
  detail: string;
  when: Condition;
}

/** Everything the lint saw in the operation's statements, in order. */
export interface Lint {
  findings: Map<Statement, Finding[]>;
  /** Problems no override can set aside (transaction control, an unnamed concurrent index). */
  problems: Map<Statement, string[]>;
  /** Relations the operation creates itself (new and empty: the rules do not apply to them). */
  created: RelName[];
}

/** The conjuncts of a boolean expression prove `column IS NOT NULL`. */
export function provesNotNull(expr: unknown, column: string): boolean {
  const e = expr as Node | undefined;
  if (!e) return false;
  const bool = e.BoolExpr as { boolop?: string; args?: Node[] } | undefined;
  if (bool?.boolop === 'AND_EXPR') return (bool.args ?? []).some((a) => provesNotNull(a, column));
  const test = e.NullTest as { nulltesttype?: string; arg?: Node } | undefined;
  if (test?.nulltesttype !== 'IS_NOT_NULL') return false;
  const fields = ((test.arg?.ColumnRef as { fields?: Node[] } | undefined)?.fields ?? []).map((f) => (f.String as { sval?: string } | undefined)?.sval);
  return fields.length === 1 && fields[0] === column;
}

/** `CHECK (…)` as pg_get_constraintdef() shows it: does it prove `column IS NOT NULL`? */
export function checkDefinitionProvesNotNull(definition: string, column: string): boolean {
  const m = /^CHECK (.*?)( NOT VALID)?$/s.exec(definition);
  if (!m) return false;
  const tree = parseSql(`SELECT ${m[1]}`);
  const target = ((tree.stmts?.[0]?.stmt as { SelectStmt?: { targetList?: Node[] } } | undefined)?.SelectStmt?.targetList ?? [])[0];
  return provesNotNull((target?.ResTarget as { val?: Node } | undefined)?.val, column);
}

interface AddedCheck {
  table: RelName;
  name: string | null;
  expr: unknown;
  validated: boolean;
  /** A NOT NULL constraint (PostgreSQL 18): `expr` is unused, `column` is what it covers. */
  column?: string;
}

const LOCK_MODE_SHARE = 5;

/** Lints one operation's statements in the order they run; relations created on the way are exempt afterwards. */
export function lintStatements(statements: readonly Statement[]): Lint {
  const created: RelName[] = [];
  const checks: AddedCheck[] = [];
  const findings = new Map<Statement, Finding[]>();
  const problems = new Map<Statement, string[]>();
  const isNew = (r: RelName) => created.some((c) => sameRel(c, r));
  for (const stmt of statements) {
    const found: Finding[] = [];
    const bad: string[] = [];
    const on = (rule: RuleId, detail: string, rels: (RelName | null)[]) => {
      const relations = rels.filter((r): r is RelName => r !== null).filter((r) => !isNew(r));
      if (rels.length && !relations.length) return;
      found.push({ rule, detail, when: rels.length ? { kind: 'existing', relations } : { kind: 'always' } });
    };
    const n = stmt.node;
    switch (stmt.kind) {
      case 'CreateStmt':
        if (relName(n.relation)) created.push(relName(n.relation)!);
        break;
      case 'CreateTableAsStmt': {
        const into = (n.into as { rel?: unknown } | undefined)?.rel;
        if (relName(into)) created.push(relName(into)!);
        break;
      }
      case 'IndexStmt': {
        const table = relName(n.relation);
        if (n.idxname) created.push({ schema: table?.schema ?? null, name: n.idxname as string });
        if (n.concurrent) {
          if (!n.idxname) bad.push('CREATE INDEX CONCURRENTLY needs an index name: pgshift looks the index up by name to drop an INVALID one left by an interrupted build');
        } else on('create-index', `CREATE INDEX on ${table ? showRel(table) : '?'}`, [table]);
        break;
      }
      case 'DropStmt':
        if (n.removeType === 'OBJECT_INDEX') {
          const objects = ((n.objects as unknown[]) ?? []).map(dropObjectName);
          if (!n.concurrent) on('drop-index', `DROP INDEX ${objects.map((o) => (o ? showRel(o) : '?')).join(', ')}`, objects);
        }
        break;
      case 'AlterTableStmt':
        lintAlterTable(stmt, n, { on, isNew, checks, found });
        break;
      case 'AlterTableMoveAllStmt':
        on('set-tablespace', 'ALL IN TABLESPACE … SET TABLESPACE', []);
        break;
      case 'VacuumStmt':
        if (n.is_vacuumcmd && hasOption(n.options, 'full'))
          on('vacuum-full', 'VACUUM FULL', ((n.rels as Node[] | undefined) ?? []).map((r) => relName((r.VacuumRelation as Node | undefined)?.relation)));
        break;
      case 'ClusterStmt':
        on('cluster', 'CLUSTER', n.relation ? [relName(n.relation)] : []);
        break;
      case 'ReindexStmt':
        if (!hasOption(n.params, 'concurrently')) on('reindex', 'REINDEX', n.relation ? [relName(n.relation)] : []);
        break;
      case 'LockStmt':
        if (((n.mode as number | undefined) ?? 8) >= LOCK_MODE_SHARE)
          on('lock-table', 'LOCK TABLE', ((n.relations as Node[] | undefined) ?? []).map((r) => relName(r.RangeVar)));
        break;
      case 'RefreshMatViewStmt':
        if (!n.concurrent) on('refresh-materialized-view', 'REFRESH MATERIALIZED VIEW', [relName(n.relation)]);
        break;
      case 'TruncateStmt':
        on('truncate', 'TRUNCATE', ((n.relations as Node[] | undefined) ?? []).map((r) => relName(r.RangeVar)));
        break;
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt':
        on('update-delete', stmt.kind.replace('Stmt', '').toUpperCase(), [relName(n.relation)]);
        break;
      case 'DoStmt':
        on('opaque-code', 'DO', []);
        break;
      case 'CallStmt':
        on('opaque-code', 'CALL', []);
        break;
      case 'TransactionStmt':
        bad.push('transaction control is pgshift’s: each phase runs in transactions of its own (see the docs on how statements are grouped)');
        break;
      case 'VariableSetStmt':
        if (!n.is_local) bad.push('SET / RESET without LOCAL would outlive the statement on pgshift’s pooled connection; use SET LOCAL');
        break;
    }
    if (found.length) findings.set(stmt, found);
    if (bad.length) problems.set(stmt, bad);
  }
  return { findings, problems, created };
}

function lintAlterTable(
  stmt: Statement,
  n: Node,
  ctx: { on: (rule: RuleId, detail: string, rels: (RelName | null)[]) => void; isNew: (r: RelName) => boolean; checks: AddedCheck[]; found: Finding[] },
): void {
  const table = relName(n.relation);
  if (!table) return;
  const location = (n.relation as { location: number }).location;
  const fresh = ctx.isNew(table);
  for (const item of (n.cmds as Node[] | undefined) ?? []) {
    const cmd = item.AlterTableCmd as { subtype?: string; name?: string; def?: Node } | undefined;
    if (!cmd) continue;
    const constraint = cmd.def?.Constraint as { contype?: string; conname?: string; skip_validation?: boolean; indexname?: string; raw_expr?: Node; keys?: Node[] } | undefined;
    switch (cmd.subtype) {
      case 'AT_AddColumn': {
        const col = cmd.def?.ColumnDef as { colname?: string; constraints?: Node[] } | undefined;
        const kinds = (col?.constraints ?? []).map((c) => (c.Constraint as { contype?: string }).contype);
        const what = `ADD COLUMN ${col?.colname ?? '?'}`;
        if (!fresh && kinds.some((k) => k === 'CONSTR_DEFAULT' || k === 'CONSTR_GENERATED' || k === 'CONSTR_IDENTITY'))
          ctx.found.push({ rule: 'add-column-rewrite', detail: what, when: { kind: 'rewrites', table, location } });
        if (kinds.some((k) => k === 'CONSTR_CHECK' || k === 'CONSTR_FOREIGN')) ctx.on('constraint-not-valid', `${what} with CHECK / REFERENCES`, [table]);
        if (kinds.some((k) => k === 'CONSTR_PRIMARY' || k === 'CONSTR_UNIQUE' || k === 'CONSTR_EXCLUSION')) ctx.on('index-constraint', `${what} with PRIMARY KEY / UNIQUE`, [table]);
        break;
      }
      case 'AT_AlterColumnType':
        if (!fresh) ctx.found.push({ rule: 'alter-type-rewrite', detail: `ALTER COLUMN ${cmd.name ?? '?'} TYPE`, when: { kind: 'rewrites', table, location } });
        break;
      case 'AT_SetNotNull':
        if (!fresh && !provenInOperation(ctx.checks, table, cmd.name ?? '')) ctx.found.push({ rule: 'set-not-null', detail: `ALTER COLUMN ${cmd.name ?? '?'} SET NOT NULL`, when: { kind: 'notNull', table, column: cmd.name ?? '' } });
        break;
      case 'AT_AddConstraint': {
        const type = constraint?.contype;
        const name = constraint?.conname ?? null;
        if (type === 'CONSTR_CHECK' || type === 'CONSTR_FOREIGN') {
          if (!constraint?.skip_validation) ctx.on('constraint-not-valid', `ADD CONSTRAINT ${name ?? ''} ${type === 'CONSTR_CHECK' ? 'CHECK' : 'FOREIGN KEY'}`.replace('  ', ' '), [table]);
          if (type === 'CONSTR_CHECK') ctx.checks.push({ table, name, expr: constraint?.raw_expr, validated: !constraint?.skip_validation });
        } else if (type === 'CONSTR_NOTNULL') {
          const column = ((constraint?.keys ?? []).map((k) => (k.String as { sval?: string }).sval))[0] ?? '';
          if (constraint?.skip_validation) ctx.checks.push({ table, name, expr: null, validated: false, column });
          else if (!fresh && !provenInOperation(ctx.checks, table, column))
            ctx.found.push({ rule: 'set-not-null', detail: `ADD CONSTRAINT ${name ?? ''} NOT NULL ${column}`, when: { kind: 'notNull', table, column } });
        } else if ((type === 'CONSTR_PRIMARY' || type === 'CONSTR_UNIQUE') && !constraint?.indexname) {
          ctx.on('index-constraint', `ADD ${type === 'CONSTR_PRIMARY' ? 'PRIMARY KEY' : 'UNIQUE'}`, [table]);
        } else if (type === 'CONSTR_EXCLUSION') {
          ctx.on('index-constraint', 'ADD EXCLUDE', [table]);
        }
        break;
      }
      case 'AT_ValidateConstraint':
        for (const c of ctx.checks) if (sameRel(c.table, table) && c.name === cmd.name) c.validated = true;
        break;
      case 'AT_SetTableSpace':
        ctx.on('set-tablespace', 'SET TABLESPACE', [table]);
        break;
      case 'AT_SetLogged':
      case 'AT_SetUnLogged':
      case 'AT_SetAccessMethod':
        ctx.on('rewrite-table', cmd.subtype.replace('AT_Set', 'SET ').toUpperCase().replace('ACCESSMETHOD', 'ACCESS METHOD'), [table]);
        break;
    }
  }
}

/** A CHECK (or NOT NULL constraint) added and validated earlier in the operation proves the column non-null. */
function provenInOperation(checks: readonly AddedCheck[], table: RelName, column: string): boolean {
  return checks.some((c) => c.validated && sameRel(c.table, table) && (c.column === column || (c.column === undefined && provesNotNull(c.expr, column))));
}

/** The refusal message: the statement (where, text), the rule, why, the alternative, and how to override. */
export function refusalMessage(stmt: Statement, finding: Finding, extra?: string): string {
  const rule = ruleOf(finding.rule);
  const text = stmt.text.length > 200 ? `${stmt.text.slice(0, 197)}…` : stmt.text;
  return (
    `${stmt.label} (${stmt.where}) is refused by rule ${rule.id}: ${text}\n` +
    `    ${finding.detail}: ${rule.why}${extra ? ` (${extra})` : ''}.\n` +
    `    Instead: ${rule.alternative}.\n` +
    `    To run it anyway: allow: [{ "statement": "${stmt.label}", "rule": "${rule.id}", "reason": "…" }]`
  );
}
