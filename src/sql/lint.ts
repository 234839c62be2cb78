import { scanSync } from 'libpg-query';
import { MAX_IDENTIFIER_BYTES } from './ident.js';
import { parseSql } from './parser.js';
import { dropObjectName, hasOption, names, relName, sameRel, showRel, type Node, type RelName, type Statement } from './statements.js';

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
    alternative:
      'add the column without the default, SET DEFAULT for new rows, and fill existing rows with backfill.set (or use the addColumn operation)',
  },
  {
    id: 'alter-type-rewrite',
    refuses: 'ALTER COLUMN TYPE that rewrites the table (not binary-coercible, e.g. int → bigint)',
    why: 'PostgreSQL rewrites every row and rebuilds its indexes under ACCESS EXCLUSIVE',
    alternative:
      'add a column of the new type, keep it in sync with dualWrite.trigger, fill it with backfill.set, and swap at contract (or use the changeColumnType operation)',
  },
  {
    id: 'set-not-null',
    refuses: 'SET NOT NULL (or a NOT NULL constraint) without a validated CHECK (column IS NOT NULL)',
    why: 'it scans the whole table under ACCESS EXCLUSIVE to prove there is no NULL',
    alternative:
      'first ADD CONSTRAINT … CHECK (column IS NOT NULL) NOT VALID and VALIDATE CONSTRAINT it (PostgreSQL then skips the scan), or use the setNotNull operation',
  },
  {
    id: 'constraint-not-valid',
    refuses: 'ADD CONSTRAINT CHECK / FOREIGN KEY (or a column CHECK / REFERENCES) without NOT VALID on an existing table',
    why: 'it checks every row while holding ACCESS EXCLUSIVE (CHECK) or SHARE ROW EXCLUSIVE on both tables (FOREIGN KEY): writes wait for the whole scan',
    alternative:
      'add it NOT VALID, then VALIDATE CONSTRAINT in a later statement (SHARE UPDATE EXCLUSIVE, writes go on), or use the addCheck / addForeignKey operation',
  },
  {
    id: 'index-constraint',
    refuses: 'ADD PRIMARY KEY / UNIQUE not USING INDEX, and EXCLUDE, on an existing table',
    why: 'it builds the index while holding ACCESS EXCLUSIVE: the table is unreadable and unwritable for the whole build',
    alternative:
      'CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT … PRIMARY KEY / UNIQUE USING INDEX (or use the addUnique operation)',
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
    id: 'drop-database',
    refuses: 'DROP DATABASE',
    why: 'it destroys every table of the database at once; no rollback brings the data back',
    alternative: 'drop databases by hand, outside migrations',
  },
  {
    id: 'drop-schema',
    refuses: 'DROP SCHEMA of a schema the operation did not create',
    why: 'it takes ACCESS EXCLUSIVE on, and destroys, every object in the schema (with CASCADE, also what depends on them elsewhere), while the running app still uses them',
    alternative: 'drop the tables one by one with the dropTable operation, which renames first and drops only at contract',
  },
  {
    id: 'drop-table',
    refuses: 'DROP TABLE of an existing table outside contract and rollback',
    why: 'it takes ACCESS EXCLUSIVE and destroys the data while the version of the app still running reads and writes the table',
    alternative: 'use the dropTable operation: the table is renamed aside at expand and dropped only at contract, when no app uses it',
  },
  {
    id: 'drop-column',
    refuses: 'ALTER TABLE … DROP COLUMN of an existing table outside contract and rollback',
    why: 'it takes ACCESS EXCLUSIVE and the version of the app still running fails on every query naming the column',
    alternative: 'use the dropColumn operation: the column goes at contract, after the new app stopped using it',
  },
  {
    id: 'add-required-column',
    refuses: 'ADD COLUMN … NOT NULL without a DEFAULT on an existing table',
    why: 'every existing row would hold NULL, so PostgreSQL fails it (23502) as soon as the table has a row; the old app, which does not know the column, could not insert either',
    alternative:
      'use the addColumn operation: the column is added nullable, filled in batches by the backfill, and made NOT NULL through a validated CHECK at contract',
  },
  {
    id: 'create-table-references',
    refuses: 'CREATE TABLE with a FOREIGN KEY / REFERENCES to an existing table',
    why: 'it takes SHARE ROW EXCLUSIVE on the referenced table and holds it until the transaction commits: every write to that table waits meanwhile',
    alternative:
      'create the table without the foreign key, then add it with the addForeignKey operation (NOT VALID, then VALIDATE CONSTRAINT, each under lock_timeout)',
  },
  {
    id: 'drop-not-null',
    refuses: 'ALTER COLUMN … DROP NOT NULL outside contract and rollback',
    why: 'the new app may then write NULLs that the old app, still running, does not expect; once written, a rollback cannot restore the constraint',
    alternative:
      'drop NOT NULL at contract, when no old app runs; to write NULLs earlier, add a new nullable column (addColumn) and move to it',
  },
  {
    id: 'rename-column',
    refuses: 'ALTER TABLE … RENAME COLUMN of an existing table',
    why: 'it takes ACCESS EXCLUSIVE, and every query of the app still running that names the old column fails at once',
    alternative: 'use the renameColumn operation: a new column kept in sync by a trigger, backfilled, and the old one dropped at contract',
  },
  {
    id: 'rename-table',
    refuses: 'ALTER TABLE … RENAME TO of an existing table',
    why: 'it takes ACCESS EXCLUSIVE, and every query of the app still running that names the old table fails at once',
    alternative:
      'keep the old name until no app uses it: create a view under the new name (an updatable view of a single table) and rename at contract',
  },
  {
    id: 'enum-value-ordering',
    refuses: 'ALTER TYPE … ADD VALUE without BEFORE / AFTER on an existing enum',
    why: "the value goes last in the sort order, so comparisons and ORDER BY on the type (e.g. status < 'approved') silently change meaning; and it cannot be used until its transaction commits",
    alternative: 'say where it belongs with ADD VALUE … BEFORE / AFTER, and use it only in a later migration',
  },
  {
    id: 'domain-constraint',
    refuses: 'ALTER DOMAIN … ADD CONSTRAINT without NOT VALID, and ALTER DOMAIN … SET NOT NULL',
    why: 'it checks every column of the domain in every table, holding a SHARE lock on each of them: writes to all of them wait for the whole scan',
    alternative:
      'ADD CONSTRAINT … NOT VALID, then VALIDATE CONSTRAINT in a later statement; or put a CHECK on the columns with the addCheck operation',
  },
  {
    id: 'detach-partition',
    refuses: 'ALTER TABLE … DETACH PARTITION without CONCURRENTLY',
    why: 'it takes ACCESS EXCLUSIVE on the partitioned table: every read and write of every partition waits',
    alternative: 'use DETACH PARTITION … CONCURRENTLY (PostgreSQL ≥ 14; pgshift runs it outside a transaction)',
  },
  {
    id: 'identifier-too-long',
    refuses: 'an identifier longer than 63 bytes',
    why: 'PostgreSQL silently truncates it to 63 bytes, so the object gets another name than the one written, and two long names can collide',
    alternative: 'use a name of at most 63 bytes',
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
  const fields = ((test.arg?.ColumnRef as { fields?: Node[] } | undefined)?.fields ?? []).map(
    (f) => (f.String as { sval?: string } | undefined)?.sval,
  );
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
  const schemas: string[] = [];
  const types: string[] = [];
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
    const long = longIdentifiers(stmt.text);
    if (long.length) on('identifier-too-long', long.map((i) => `${i.slice(0, 20)}… (${Buffer.byteLength(i)} bytes)`).join(', '), []);
    switch (stmt.kind) {
      case 'CreateStmt': {
        const table = relName(n.relation);
        const referenced = foreignKeyTargets(n).filter((r) => !table || !sameRel(r, table));
        if (referenced.length) on('create-table-references', `REFERENCES ${referenced.map(showRel).join(', ')}`, referenced);
        if (table) created.push(table);
        break;
      }
      case 'CreateSchemaStmt':
        if (n.schemaname) schemas.push(n.schemaname as string);
        break;
      case 'CreateEnumStmt':
        types.push(names(n.typeName).join('.'));
        break;
      case 'DropdbStmt':
        on('drop-database', `DROP DATABASE ${(n.dbname as string | undefined) ?? '?'}`, []);
        break;
      case 'AlterEnumStmt': {
        const type = names(n.typeName).join('.');
        if (n.newVal !== undefined && n.newValNeighbor === undefined && !types.includes(type))
          on('enum-value-ordering', `ALTER TYPE ${type} ADD VALUE '${n.newVal as string}'`, []);
        break;
      }
      case 'AlterDomainStmt': {
        const con = (n.def as Node | undefined)?.Constraint as { skip_validation?: boolean } | undefined;
        if ((n.subtype === 'C' && !con?.skip_validation) || n.subtype === 'O')
          on(
            'domain-constraint',
            `ALTER DOMAIN ${names(n.typeName).join('.')} ${n.subtype === 'O' ? 'SET NOT NULL' : 'ADD CONSTRAINT'}`,
            [],
          );
        break;
      }
      case 'RenameStmt':
        if (n.renameType === 'OBJECT_COLUMN' && n.relationType === 'OBJECT_TABLE')
          on('rename-column', `RENAME COLUMN ${(n.subname as string | undefined) ?? '?'} TO ${(n.newname as string | undefined) ?? '?'}`, [
            relName(n.relation),
          ]);
        else if (n.renameType === 'OBJECT_TABLE')
          on('rename-table', `RENAME TO ${(n.newname as string | undefined) ?? '?'}`, [relName(n.relation)]);
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
          if (!n.idxname)
            bad.push(
              'CREATE INDEX CONCURRENTLY needs an index name: pgshift looks the index up by name to drop an INVALID one left by an interrupted build',
            );
        } else on('create-index', `CREATE INDEX on ${table ? showRel(table) : '?'}`, [table]);
        break;
      }
      case 'DropStmt':
        if (n.removeType === 'OBJECT_INDEX') {
          const objects = ((n.objects as unknown[]) ?? []).map(dropObjectName);
          if (!n.concurrent) on('drop-index', `DROP INDEX ${objects.map((o) => (o ? showRel(o) : '?')).join(', ')}`, objects);
        } else if (n.removeType === 'OBJECT_TABLE' && !destructionPhase(stmt)) {
          const objects = ((n.objects as unknown[]) ?? []).map(dropObjectName);
          on('drop-table', `DROP TABLE ${objects.map((o) => (o ? showRel(o) : '?')).join(', ')}`, objects);
        } else if (n.removeType === 'OBJECT_SCHEMA') {
          const dropped = names(n.objects).filter((x) => !schemas.includes(x));
          if (dropped.length) on('drop-schema', `DROP SCHEMA ${dropped.join(', ')}`, []);
        }
        break;
      case 'AlterTableStmt':
        lintAlterTable(stmt, n, { on, isNew, checks, found, destruction: destructionPhase(stmt) });
        break;
      case 'AlterTableMoveAllStmt':
        on('set-tablespace', 'ALL IN TABLESPACE … SET TABLESPACE', []);
        break;
      case 'VacuumStmt':
        if (n.is_vacuumcmd && hasOption(n.options, 'full'))
          on(
            'vacuum-full',
            'VACUUM FULL',
            ((n.rels as Node[] | undefined) ?? []).map((r) => relName((r.VacuumRelation as Node | undefined)?.relation)),
          );
        break;
      case 'ClusterStmt':
        on('cluster', 'CLUSTER', n.relation ? [relName(n.relation)] : []);
        break;
      case 'ReindexStmt':
        if (!hasOption(n.params, 'concurrently')) on('reindex', 'REINDEX', n.relation ? [relName(n.relation)] : []);
        break;
      case 'LockStmt':
        if (((n.mode as number | undefined) ?? 8) >= LOCK_MODE_SHARE)
          on(
            'lock-table',
            'LOCK TABLE',
            ((n.relations as Node[] | undefined) ?? []).map((r) => relName(r.RangeVar)),
          );
        break;
      case 'RefreshMatViewStmt':
        if (!n.concurrent) on('refresh-materialized-view', 'REFRESH MATERIALIZED VIEW', [relName(n.relation)]);
        break;
      case 'TruncateStmt':
        on(
          'truncate',
          'TRUNCATE',
          ((n.relations as Node[] | undefined) ?? []).map((r) => relName(r.RangeVar)),
        );
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
        bad.push(
          'transaction control is pgshift’s: each phase runs in transactions of its own (see the docs on how statements are grouped)',
        );
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
  ctx: {
    on: (rule: RuleId, detail: string, rels: (RelName | null)[]) => void;
    isNew: (r: RelName) => boolean;
    checks: AddedCheck[];
    found: Finding[];
    destruction: boolean;
  },
): void {
  const table = relName(n.relation);
  if (!table) return;
  const location = (n.relation as { location: number }).location;
  const fresh = ctx.isNew(table);
  for (const item of (n.cmds as Node[] | undefined) ?? []) {
    const cmd = item.AlterTableCmd as { subtype?: string; name?: string; def?: Node } | undefined;
    if (!cmd) continue;
    const constraint = cmd.def?.Constraint as
      { contype?: string; conname?: string; skip_validation?: boolean; indexname?: string; raw_expr?: Node; keys?: Node[] } | undefined;
    switch (cmd.subtype) {
      case 'AT_AddColumn': {
        const col = cmd.def?.ColumnDef as { colname?: string; constraints?: Node[] } | undefined;
        const kinds = (col?.constraints ?? []).map((c) => (c.Constraint as { contype?: string }).contype);
        const what = `ADD COLUMN ${col?.colname ?? '?'}`;
        if (!fresh && kinds.some((k) => k === 'CONSTR_DEFAULT' || k === 'CONSTR_GENERATED' || k === 'CONSTR_IDENTITY'))
          ctx.found.push({ rule: 'add-column-rewrite', detail: what, when: { kind: 'rewrites', table, location } });
        if (
          kinds.includes('CONSTR_NOTNULL') &&
          !kinds.some((k) => k === 'CONSTR_DEFAULT' || k === 'CONSTR_GENERATED' || k === 'CONSTR_IDENTITY')
        )
          ctx.on('add-required-column', `${what} NOT NULL without a DEFAULT`, [table]);
        if (kinds.some((k) => k === 'CONSTR_CHECK' || k === 'CONSTR_FOREIGN'))
          ctx.on('constraint-not-valid', `${what} with CHECK / REFERENCES`, [table]);
        if (kinds.some((k) => k === 'CONSTR_PRIMARY' || k === 'CONSTR_UNIQUE' || k === 'CONSTR_EXCLUSION'))
          ctx.on('index-constraint', `${what} with PRIMARY KEY / UNIQUE`, [table]);
        break;
      }
      case 'AT_AlterColumnType':
        if (!fresh)
          ctx.found.push({
            rule: 'alter-type-rewrite',
            detail: `ALTER COLUMN ${cmd.name ?? '?'} TYPE`,
            when: { kind: 'rewrites', table, location },
          });
        break;
      case 'AT_SetNotNull':
        if (!fresh && !provenInOperation(ctx.checks, table, cmd.name ?? ''))
          ctx.found.push({
            rule: 'set-not-null',
            detail: `ALTER COLUMN ${cmd.name ?? '?'} SET NOT NULL`,
            when: { kind: 'notNull', table, column: cmd.name ?? '' },
          });
        break;
      case 'AT_AddConstraint': {
        const type = constraint?.contype;
        const name = constraint?.conname ?? null;
        if (type === 'CONSTR_CHECK' || type === 'CONSTR_FOREIGN') {
          if (!constraint?.skip_validation)
            ctx.on(
              'constraint-not-valid',
              `ADD CONSTRAINT ${name ?? ''} ${type === 'CONSTR_CHECK' ? 'CHECK' : 'FOREIGN KEY'}`.replace('  ', ' '),
              [table],
            );
          if (type === 'CONSTR_CHECK')
            ctx.checks.push({ table, name, expr: constraint?.raw_expr, validated: !constraint?.skip_validation });
        } else if (type === 'CONSTR_NOTNULL') {
          const column = (constraint?.keys ?? []).map((k) => (k.String as { sval?: string }).sval)[0] ?? '';
          if (constraint?.skip_validation) ctx.checks.push({ table, name, expr: null, validated: false, column });
          else if (!fresh && !provenInOperation(ctx.checks, table, column))
            ctx.found.push({
              rule: 'set-not-null',
              detail: `ADD CONSTRAINT ${name ?? ''} NOT NULL ${column}`,
              when: { kind: 'notNull', table, column },
            });
        } else if ((type === 'CONSTR_PRIMARY' || type === 'CONSTR_UNIQUE') && !constraint?.indexname) {
          ctx.on('index-constraint', `ADD ${type === 'CONSTR_PRIMARY' ? 'PRIMARY KEY' : 'UNIQUE'}`, [table]);
        } else if (type === 'CONSTR_EXCLUSION') {
          ctx.on('index-constraint', 'ADD EXCLUDE', [table]);
        }
        break;
      }
      case 'AT_DropNotNull':
        if (!ctx.destruction) ctx.on('drop-not-null', `ALTER COLUMN ${cmd.name ?? '?'} DROP NOT NULL`, [table]);
        break;
      case 'AT_DropColumn':
        if (!ctx.destruction) ctx.on('drop-column', `DROP COLUMN ${cmd.name ?? '?'}`, [table]);
        break;
      case 'AT_DetachPartition':
        if (!(cmd.def?.PartitionCmd as { concurrent?: boolean } | undefined)?.concurrent)
          ctx.on('detach-partition', 'DETACH PARTITION', [table]);
        break;
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

/** Contract and rollback are where an operation removes things; elsewhere a removal breaks the app version still running. */
function destructionPhase(stmt: Statement): boolean {
  return stmt.field === 'contract' || stmt.field === 'rollback';
}

/** The identifiers of a statement (quoted ones unquoted) that PostgreSQL would truncate. */
export function longIdentifiers(text: string): string[] {
  return scanSync(text)
    .tokens.filter((t) => t.tokenName === 'IDENT')
    .map((t) => (t.text.startsWith('"') ? t.text.slice(1, -1).replaceAll('""', '"') : t.text))
    .filter((name) => Buffer.byteLength(name) > MAX_IDENTIFIER_BYTES);
}

/** The tables a CREATE TABLE's column and table constraints reference. */
function foreignKeyTargets(n: Node): RelName[] {
  const out: RelName[] = [];
  const visit = (c: Node | undefined) => {
    const con = c?.Constraint as { contype?: string; pktable?: unknown } | undefined;
    if (con?.contype === 'CONSTR_FOREIGN' && relName(con.pktable)) out.push(relName(con.pktable)!);
  };
  for (const elt of (n.tableElts as Node[] | undefined) ?? []) {
    if (elt.Constraint) visit(elt);
    for (const c of (elt.ColumnDef as { constraints?: Node[] } | undefined)?.constraints ?? []) visit(c);
  }
  return out;
}

/** A CHECK (or NOT NULL constraint) added and validated earlier in the operation proves the column non-null. */
function provenInOperation(checks: readonly AddedCheck[], table: RelName, column: string): boolean {
  return checks.some(
    (c) => c.validated && sameRel(c.table, table) && (c.column === column || (c.column === undefined && provesNotNull(c.expr, column))),
  );
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
