import { describeRef, findTable, type BatchKey, type ColumnInfo, type TableInfo, type TableRef } from '../../catalog/introspect.js';
import type { Queryable } from '../../db/queryable.js';
import type { PlanProblem } from '../../errors.js';
import { ident, literal, qualified } from '../../sql/ident.js';
import { carryOverSteps, inspectCarryOver, NO_CARRY_OVER, type CarryOverFacts, type CarryTarget } from './carry-over.js';
import { notNullViaCheck } from './not-null.js';
import { rowTrigger, rowTriggerDrift } from './row-trigger.js';
import type { DdlStep, ObjectNames, OperationSteps } from '../../plan/steps.js';
import { tableProblems } from './table-checks.js';

/**
 * The expand-contract of one column through a shadow: renameColumn (the shadow is the new name)
 * and changeColumnType (the shadow has the new type and takes the old name at contract).
 */
export interface ShadowColumnFacts {
  /** The shadow's type and collation (format_type output, safe to render). */
  type: string;
  collation: { schema: string; name: string } | null;
  notNull: boolean;
  comment: string | null;
  key: BatchKey;
  /** Absent in ledgers written before carry-over existed; then only the default moves. */
  carry?: CarryOverFacts;
  /** Ledgers before carry-over kept the default here. */
  defaultExpr?: string | null;
}

export interface ShadowColumn {
  table: TableRef;
  /** The column being replaced. */
  column: string;
  /** The new column while the migration runs. */
  shadow: string;
  /** Its name after contract: `shadow` for a rename, `column` for a type change. */
  finalName: string;
  /** SQL computing the shadow from the old row, with `ref(name)` for each column reference. */
  up: (ref: (column: string) => string) => string;
  /** SQL computing the old column from the shadow (`ref` as in `up`, the shadow under its own name). */
  down: (ref: (column: string) => string) => string;
}

/**
 * Body of the dual-write trigger. Direction is decided per row, without recursion (it only
 * assigns NEW, it never issues an UPDATE):
 * - INSERT: a value given for the shadow wins (the old column is computed from it); otherwise the
 *   shadow is computed from the old column (the old app's value or its default).
 * - UPDATE: if the shadow changed, the old column follows it; otherwise the shadow follows the
 *   old row (covering old-app writes and keeping touched rows in sync).
 */
export function shadowSyncBody(s: Pick<ShadowColumn, 'column' | 'shadow' | 'up' | 'down'>): string {
  const neu = (c: string) => `NEW.${ident(c)}`;
  const t = neu(s.shadow);
  const f = neu(s.column);
  const up = s.up(neu);
  const down = s.down(neu);
  // A plain copy (rename) re-syncs on every UPDATE. A computed shadow (type change) is recomputed
  // only when what `up` reads changed, or it is still NULL: an UPDATE of an unrelated column must
  // not replace a value the new app wrote with up(down(value)) (9.99 → 10 → 10.00).
  const reads = new Set<string>();
  s.up((c) => (reads.add(c), c));
  const copy = up === f;
  const changed = [...reads]
    .map((c) => `NEW.${ident(c)} IS DISTINCT FROM OLD.${ident(c)}`)
    .concat(`${t} IS NULL`)
    .join(' OR ');
  return [
    'BEGIN',
    `  IF TG_OP = 'INSERT' THEN`,
    `    IF ${t} IS NULL THEN ${t} := ${up}; ELSE ${f} := ${down}; END IF;`,
    `  ELSIF ${t} IS DISTINCT FROM OLD.${ident(s.shadow)} THEN`,
    // A shadow set to exactly up(old row) (the backfill's own UPDATE) is in step already: the old
    // column is left as it is, so a narrowing USING never rounds what the old app reads.
    copy ? `    ${f} := ${down};` : `    IF ${t} IS DISTINCT FROM ${up} THEN ${f} := ${down}; END IF;`,
    copy ? '  ELSE' : `  ELSIF ${changed} THEN`,
    `    ${t} := ${up};`,
    '  END IF;',
    '  RETURN NEW;',
    'END',
  ].join('\n');
}

export function shadowColumnSteps(s: ShadowColumn, facts: ShadowColumnFacts, names: ObjectNames, index: number): OperationSteps {
  const { table } = s;
  const t = qualified(table.schema, table.name);
  const shadow = ident(s.shadow);
  const id = (phase: string, what: string) => `${index}.${phase}.${what}`;
  const carry = facts.carry ?? { ...NO_CARRY_OVER, defaultExpr: facts.defaultExpr ?? null };
  const carried = carryOverSteps({
    table,
    column: s.column,
    shadow: s.shadow,
    finalName: s.finalName,
    facts: carry,
    hash: names.hash,
    index,
  });
  const step = (phase: string, what: string, description: string, sql: string, lock: DdlStep['lock']): DdlStep => ({
    id: id(phase, what),
    description,
    sql,
    lock,
    table,
    tx: 'phase',
  });

  const collate = facts.collation ? ` COLLATE ${qualified(facts.collation.schema, facts.collation.name)}` : '';
  const expand: DdlStep[] = [
    step(
      'expand',
      'add-column',
      `add ${s.shadow} beside ${s.column} (nullable, no default: no table rewrite)`,
      `ALTER TABLE ${t} ADD COLUMN ${shadow} ${facts.type}${collate}`,
      'ACCESS EXCLUSIVE',
    ),
  ];
  if (facts.comment !== null)
    expand.push(
      step(
        'expand',
        'comment',
        `copy the comment of ${s.column}`,
        `COMMENT ON COLUMN ${t}.${shadow} IS ${literal(facts.comment)}`,
        'SHARE UPDATE EXCLUSIVE',
      ),
    );
  expand.push(...carried.expand);

  const sync = rowTrigger({
    table,
    names,
    index,
    body: shadowSyncBody(s),
    purpose: `keeping ${s.column} and ${s.shadow} in step in both directions`,
    stop: 'stop dual-writing',
  });

  // NOT NULL: the check is added and validated after the backfill (a scan, while writes go on);
  // contract only flips SET NOT NULL, which finds the validated check and skips its own scan.
  const notNull = notNullViaCheck({ table, column: s.shadow, checkName: names.notNullCheck, index, checkPhase: 'backfill' });
  const checkSteps = facts.notNull ? notNull.contract.filter((x) => x.tx === 'own') : [];
  const contract: DdlStep[] = facts.notNull ? notNull.contract.filter((x) => x.tx === 'phase') : [];
  contract.push(...sync.contract, ...carried.beforeDrop);
  if (carry.defaultExpr !== null)
    contract.push(
      step(
        'contract',
        'move-default',
        `move the default to ${s.shadow} (kept off it until now so the INSERT direction is unambiguous)`,
        `ALTER TABLE ${t} ALTER COLUMN ${shadow} SET DEFAULT ${carry.defaultExpr}`,
        'ACCESS EXCLUSIVE',
      ),
    );
  contract.push(
    step(
      'contract',
      'drop-old-column',
      `drop ${s.column} (metadata only, no rewrite) with the indexes and constraints on it`,
      `ALTER TABLE ${t} DROP COLUMN ${ident(s.column)}`,
      'ACCESS EXCLUSIVE',
    ),
  );
  if (s.finalName !== s.shadow)
    contract.push(
      step(
        'contract',
        'rename-shadow',
        `${s.shadow} takes the name ${s.finalName}`,
        `ALTER TABLE ${t} RENAME COLUMN ${shadow} TO ${ident(s.finalName)}`,
        'ACCESS EXCLUSIVE',
      ),
    );
  contract.push(...carried.afterDrop);

  const rollback: DdlStep[] = [
    notNull.rollback,
    ...sync.rollback,
    ...carried.rollback,
    step(
      'rollback',
      'drop-new-column',
      `drop ${s.shadow}; every value written to it was mirrored into ${s.column}`,
      `ALTER TABLE ${t} DROP COLUMN IF EXISTS ${shadow}`,
      'ACCESS EXCLUSIVE',
    ),
  ];

  const plain = (c: string) => ident(c);
  // `up` and `down` render self-contained SQL (a plain column, or a parenthesised expression).
  // A row is in step when either direction holds: the shadow is up(old) (an old-app write, or
  // copied), or the old column is down(shadow) (a new-app write). With a lossy `down` (numeric
  // 9.99 → integer 10) the second keeps the backfill from overwriting the new app's 9.99 with
  // up(10) = 10.00. For a rename both say the same, so the second is left out.
  const upSql = s.up(plain);
  const downSql = s.down(plain);
  const sameBothWays = upSql === ident(s.column) && downSql === shadow;
  // The second direction needs a shadow: a row the backfill has not reached (shadow NULL) whose old
  // value happens to equal down(NULL) (a `coalesce(x, 0)` reverse) is not in step.
  const mismatch = sameBothWays
    ? `${shadow} IS DISTINCT FROM ${upSql}`
    : `${shadow} IS DISTINCT FROM ${upSql} AND (${shadow} IS NULL OR ${ident(s.column)} IS DISTINCT FROM ${downSql})`;
  return {
    expand,
    dualWrite: sync.dualWrite,
    backfill: [
      { id: `${index}.backfill`, table, key: facts.key.columns, set: [{ column: s.shadow, expression: upSql }], pending: mismatch },
    ],
    afterBackfill: [...checkSteps, ...carried.afterBackfill],
    verify: [
      {
        id: `${index}.verify`,
        table,
        key: facts.key.columns,
        mismatch,
        description: sameBothWays
          ? `${s.shadow} equals ${upSql}`
          : `${s.shadow} equals ${upSql}, or ${s.shadow} is set and ${s.column} equals ${downSql}`,
      },
    ],
    checks: carried.checks,
    contract,
    rollback,
    triggers: [{ table, name: names.trigger }],
  };
}

/**
 * The checks both operations share: a plain table with a batch key, the column present, the
 * shadow's name free; then the carry-over of what hangs on the column.
 */
export async function inspectShadowColumn(
  db: Queryable,
  o: {
    table: TableRef;
    column: string;
    columnPath: string;
    shadow: string;
    shadowPath: string;
    finalName: string;
    kind: string;
    retype?: CarryTarget['retype'];
  },
  path: string,
): Promise<{ table: TableInfo | null; column: ColumnInfo | null; carry: CarryOverFacts | null; problems: PlanProblem[] }> {
  const problems: PlanProblem[] = [];
  const where = describeRef(o.table);
  const table = await findTable(db, o.table);
  if (!table) {
    problems.push({ path: `${path}.table`, message: `table ${where} does not exist` });
    return { table: null, column: null, carry: null, problems };
  }
  problems.push(...tableProblems(table, { kind: o.kind, path, typed: true, key: 'batch the backfill' }));
  if (table.columns.some((c) => c.name === o.shadow))
    problems.push({ path: `${path}.${o.shadowPath}`, message: `column ${o.shadow} already exists in ${where}` });
  const column = table.columns.find((c) => c.name === o.column) ?? null;
  if (!column) {
    problems.push({ path: `${path}.${o.columnPath}`, message: `column ${o.column} does not exist in ${where}` });
    return { table, column: null, carry: null, problems };
  }
  if (problems.length) return { table, column, carry: null, problems };
  const carried = await inspectCarryOver(
    db,
    table,
    column,
    { shadow: o.shadow, ...(o.retype ? { retype: o.retype } : {}) },
    path,
    o.finalName,
  );
  return { table, column, carry: carried.facts, problems: carried.problems };
}

export async function shadowColumnDrift(
  db: Queryable,
  s: Pick<ShadowColumn, 'table' | 'column' | 'shadow'>,
  names: ObjectNames,
  completed: readonly string[],
): Promise<string[]> {
  const problems: string[] = [];
  const where = describeRef(s.table);
  const table = await findTable(db, s.table);
  if (!table) return [`table ${where} is gone`];
  if (completed.includes('contract')) return [];
  const has = (c: string) => table.columns.some((col) => col.name === c);
  if (!has(s.column)) problems.push(`column ${s.column} is missing from ${where}`);
  if (completed.includes('expand') && !has(s.shadow)) problems.push(`column ${s.shadow} (added by expand) is missing from ${where}`);
  if (completed.includes('dual-write')) {
    problems.push(...(await rowTriggerDrift(db, s.table, names)));
  }
  return problems;
}
