import pg from 'pg';
import { describeRef, findTable, relkindName, type TableInfo } from '../../catalog/introspect.js';
import { queryRows, singleStatement, type Queryable } from '../../db/queryable.js';
import { inTrialTransaction, TRIAL_LOCK_TIMEOUT_MS } from '../../db/rolled-back.js';
import { LockTimeoutError, SqlState, sqlStateOf, type PlanProblem } from '../../errors.js';
import { ident, qualified } from '../../sql/ident.js';
import { checkDefinitionProvesNotNull, lintStatements, refusalMessage, type Finding } from '../../sql/lint.js';
import { expressionColumns, SqlTextError } from '../../sql/parser.js';
import { replaceRelation, sameRel, showRel, type RelName, type Statement } from '../../sql/statements.js';
import { matchAllow, runModeOf, SQL_FIELDS, statementsOf } from './custom-sql.js';
import type { Custom, CustomFacts } from './custom-sql.js';
import type { Inspection } from '../operation.js';

function relText(r: RelName): string {
  return r.schema ? qualified(r.schema, r.name) : ident(r.name);
}

async function exists(db: Queryable, r: RelName): Promise<boolean> {
  const [row] = await queryRows<{ ok: boolean }>(db, 'SELECT pg_catalog.to_regclass($1) IS NOT NULL AS ok', [relText(r)]);
  return row?.ok === true;
}

/**
 * PostgreSQL's verdict on whether the ALTER TABLE statements asked about rewrite the table: each
 * ALTER TABLE of the operation on it runs, in order, on an empty temporary copy (`LIKE` it, named
 * like it) in a transaction that is rolled back, and a statement rewrites when the copy's
 * relfilenode changes. The table itself only gets ACCESS SHARE. A verdict is a string when
 * PostgreSQL refused the statement on the copy (then nothing tells it does not rewrite).
 */
async function probeRewrites(
  db: Queryable,
  table: RelName,
  statements: readonly Statement[],
  asked: ReadonlySet<Statement>,
): Promise<Map<Statement, boolean | string>> {
  const verdicts = new Map<Statement, boolean | string>();
  const copy = `pg_temp.${ident(table.name)}`;
  await inTrialTransaction(db, async (c) => {
    try {
      await c.query(`CREATE TEMPORARY TABLE ${ident(table.name)} (LIKE ${relText(table)})`);
    } catch (error) {
      if (sqlStateOf(error) === SqlState.lockNotAvailable)
        throw new LockTimeoutError(`CREATE TEMPORARY TABLE … (LIKE ${relText(table)})`, 1, TRIAL_LOCK_TIMEOUT_MS, [], { cause: error });
      if (!(error instanceof pg.DatabaseError)) throw error;
      for (const s of asked) verdicts.set(s, `no empty copy of ${showRel(table)} to try it on: ${error.message}`);
      return;
    }
    const relfilenode = async () =>
      (
        await queryRows<{ n: string }>(c, `SELECT relfilenode::text AS n FROM pg_catalog.pg_class WHERE oid = pg_catalog.to_regclass($1)`, [
          copy,
        ])
      )[0]?.n;
    for (const s of statements) {
      if (s.kind !== 'AlterTableStmt') continue;
      const rel = s.node.relation as { schemaname?: string; relname: string; location: number };
      if (!sameRel({ schema: rel.schemaname ?? null, name: rel.relname }, table)) continue;
      const before = await relfilenode();
      await c.query('SAVEPOINT pgshift_probe');
      try {
        await c.query(singleStatement(replaceRelation(s, rel.location, copy)));
        await c.query('RELEASE SAVEPOINT pgshift_probe');
        if (asked.has(s)) verdicts.set(s, (await relfilenode()) !== before);
      } catch (error) {
        await c.query('ROLLBACK TO SAVEPOINT pgshift_probe');
        if (!(error instanceof pg.DatabaseError)) throw error;
        if (asked.has(s))
          verdicts.set(s, `PostgreSQL refused it on an empty copy of the table (${error.message}), so whether it rewrites is unknown`);
      }
    }
  });
  return verdicts;
}

/** Whether a validated CHECK proves the column has no NULL (PostgreSQL then skips SET NOT NULL's scan), or it already is NOT NULL. */
async function notNullProven(db: Queryable, table: RelName, column: string): Promise<boolean> {
  const [row] = await queryRows<{ not_null: boolean; checks: string[] }>(
    db,
    `SELECT a.attnotnull AS not_null,
            ARRAY(SELECT pg_catalog.pg_get_constraintdef(k.oid) FROM pg_catalog.pg_constraint k
                   WHERE k.conrelid = a.attrelid AND k.contype = 'c' AND k.convalidated) AS checks
       FROM pg_catalog.pg_attribute a
      WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped`,
    [relText(table), column],
  );
  return row !== undefined && (row.not_null || row.checks.some((d) => checkDefinitionProvesNotNull(d, column)));
}

export interface Refusal {
  statement: Statement;
  finding: Finding;
  extra?: string;
}

/** Which findings are refusals on this database. */
export async function refusals(db: Queryable, statements: readonly Statement[], findings: Map<Statement, Finding[]>): Promise<Refusal[]> {
  const out: Refusal[] = [];
  const rewrites = new Map<string, { table: RelName; asked: Set<Statement> }>();
  for (const [statement, list] of findings) {
    for (const finding of list) {
      const w = finding.when;
      if (w.kind === 'always') out.push({ statement, finding });
      else if (w.kind === 'existing') {
        for (const r of w.relations) {
          if (await exists(db, r)) {
            out.push({ statement, finding, extra: `${showRel(r)} exists` });
            break;
          }
        }
      } else if (w.kind === 'notNull') {
        if ((await exists(db, w.table)) && !(await notNullProven(db, w.table, w.column))) out.push({ statement, finding });
      } else if (await exists(db, w.table)) {
        const k = JSON.stringify(w.table);
        const entry = rewrites.get(k) ?? { table: w.table, asked: new Set<Statement>() };
        entry.asked.add(statement);
        rewrites.set(k, entry);
      }
    }
  }
  for (const { table, asked } of rewrites.values()) {
    const verdicts = await probeRewrites(db, table, statements, asked);
    for (const statement of asked) {
      const v = verdicts.get(statement);
      if (v === false) continue;
      for (const finding of findings.get(statement) ?? []) {
        if (finding.when.kind === 'rewrites')
          out.push({ statement, finding, extra: typeof v === 'string' ? v : 'PostgreSQL rewrote an empty copy of the table' });
      }
    }
  }
  return out;
}

/** Where each CREATE/DROP INDEX CONCURRENTLY's index lives, resolved as PostgreSQL will (search_path for unqualified names). */
async function indexLocations(db: Queryable, statements: readonly Statement[]): Promise<CustomFacts['indexes']> {
  const out: CustomFacts['indexes'] = {};
  const [{ schema: current } = { schema: 'public' }] = await queryRows<{ schema: string }>(
    db,
    'SELECT pg_catalog.current_schema() AS schema',
  );
  const created: { name: RelName; at: { schema: string; table: string } }[] = [];
  for (const s of statements) {
    const index = runModeOf(s).index;
    if (!index) continue;
    if (index.action === 'create' && index.table) {
      const [row] = await queryRows<{ schema: string; table: string }>(
        db,
        `SELECT n.nspname AS schema, c.relname AS table FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = pg_catalog.to_regclass($1)`,
        [relText(index.table)],
      );
      out[s.label] = row ?? { schema: index.table.schema ?? current, table: index.table.name };
      created.push({ name: { schema: out[s.label]!.schema, name: index.name.name }, at: out[s.label]! });
    } else if (index.action === 'drop') {
      const [row] = await queryRows<{ schema: string; table: string }>(
        db,
        `SELECT n.nspname AS schema, t.relname AS table FROM pg_catalog.pg_index i
           JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
          WHERE i.indexrelid = pg_catalog.to_regclass($1)`,
        [relText(index.name)],
      );
      out[s.label] = row ??
        created.find((c) => sameRel(index.name, c.name))?.at ?? { schema: index.name.schema ?? current, table: index.name.name };
    }
  }
  return out;
}

function fieldPath(path: string, field: string): string {
  return `${path}.${field}`;
}

export async function inspectCustom(db: Queryable, op: Custom, path: string): Promise<Inspection<CustomFacts>> {
  const problems: PlanProblem[] = [];
  const statements: Statement[] = [];
  for (const field of SQL_FIELDS) {
    try {
      statements.push(...statementsOf(op, field));
    } catch (error) {
      if (!(error instanceof SqlTextError)) throw error;
      problems.push({ path: fieldPath(path, field), message: error.message });
    }
  }
  const expressions: [string, string][] = [
    ...Object.entries(op.dualWrite?.trigger?.up ?? {}).map(([c, e]): [string, string] => [`dualWrite.trigger.up.${c}`, e]),
    ...Object.entries(op.dualWrite?.trigger?.down ?? {}).map(([c, e]): [string, string] => [`dualWrite.trigger.down.${c}`, e]),
    ...Object.entries(op.backfill?.set ?? {}).map(([c, e]): [string, string] => [`backfill.set.${c}`, e]),
    ...(op.backfill?.pending !== undefined ? [['backfill.pending', op.backfill.pending] as [string, string]] : []),
    ...(op.verify !== undefined ? [['verify', op.verify] as [string, string]] : []),
  ];
  for (const [field, expression] of expressions) {
    try {
      expressionColumns(expression);
    } catch (error) {
      if (!(error instanceof SqlTextError)) throw error;
      problems.push({ path: fieldPath(path, field), message: error.message });
    }
  }
  const both = Object.keys(op.dualWrite?.trigger?.down ?? {}).filter((c) => c in (op.dualWrite?.trigger?.up ?? {}));
  if (both.length)
    problems.push({
      path: fieldPath(path, 'dualWrite.trigger.down'),
      message: `assigns ${both.join(', ')}, which up assigns too (up sets new columns, down old ones)`,
    });

  const lint = lintStatements(statements);
  for (const [s, messages] of lint.problems)
    for (const m of messages) problems.push({ path: fieldPath(path, s.field), message: `${s.label} (${s.where}): ${m}: ${s.text}` });
  const refused = await refusals(db, statements, lint.findings);
  const allowed = new Set<Refusal>();
  op.allow.forEach((a, i) => {
    const { statement, problem } = matchAllow(statements, a);
    if (!statement) {
      problems.push({ path: `${path}.allow[${i}].statement`, message: problem! });
      return;
    }
    const hit = refused.filter((r) => r.statement === statement && r.finding.rule === a.rule);
    if (!hit.length) {
      const rules = refused.filter((r) => r.statement === statement).map((r) => r.finding.rule);
      problems.push({
        path: `${path}.allow[${i}]`,
        message: `${statement.label} is not refused by rule ${a.rule} (${rules.length ? `only by ${[...new Set(rules)].join(', ')}` : 'nothing refuses it'}); remove the stale override`,
      });
    }
    for (const r of hit) allowed.add(r);
  });
  for (const r of refused)
    if (!allowed.has(r))
      problems.push({ path: fieldPath(path, r.statement.field), message: refusalMessage(r.statement, r.finding, r.extra) });

  let table: TableInfo | null = null;
  if (op.table !== undefined) {
    const ref = { schema: op.schema, name: op.table };
    const where = describeRef(ref);
    table = await findTable(db, ref);
    const needsKey = op.backfill?.set !== undefined || op.verify !== undefined;
    if (!table) {
      const createdHere = lint.created.some((c) => sameRel(c, { schema: op.schema, name: op.table! }));
      if (needsKey || !createdHere)
        problems.push({
          path: `${path}.table`,
          message: `table ${where} does not exist${needsKey ? ' (the backfill and verification need it before expand)' : ''}`,
        });
    } else {
      if (table.relkind !== 'r' && table.relkind !== 'p')
        problems.push({ path: `${path}.table`, message: `${where} is a ${relkindName(table.relkind)}` });
      if (needsKey && !table.key)
        problems.push({
          path: `${path}.table`,
          message: `${where} has no primary key or unique index over NOT NULL columns to batch the backfill and verification on`,
        });
    }
  }
  if (problems.length) return { facts: null, problems };
  return { facts: { key: table?.key ?? null, indexes: await indexLocations(db, statements) }, problems };
}
