import { scanSync } from 'libpg-query';
import type { LintRuleId } from './rules.js';
import { names, relName, type Node, type RelName, type Statement } from '../sql/statements.js';

/** The pgshift way to do what a flagged statement does: the `pgshift new` command and the operation, filled from the statement. */
export interface SafeAlternative {
  command: string;
  operation: Record<string, unknown>;
}

interface Token {
  start: number;
  end: number;
  text: string;
}

/** The text of a clause of `stmt` from byte `from` (statement-relative) up to a depth-0 stop word, `,` or an unmatched `)`. */
function clauseFrom(stmt: Statement, from: number, stops: readonly string[]): string | null {
  const tokens: Token[] = scanSync(stmt.text).tokens;
  const bytes = Buffer.from(stmt.text, 'utf8');
  let depth = 0;
  let last: Token | null = null;
  for (const t of tokens) {
    if (t.start < from) continue;
    if (t.text === '(') depth += 1;
    if (t.text === ')') {
      if (depth === 0) break;
      depth -= 1;
    }
    if (depth === 0 && last && (t.text === ',' || t.text === ';' || stops.includes(t.text.toUpperCase()))) break;
    last = t;
  }
  return last ? bytes.subarray(from, last.end).toString('utf8').trim() : null;
}

/** The start (statement-relative) of the first token at or after `location` whose text is `word`. */
function tokenAfter(stmt: Statement, location: number, word: string): Token | null {
  return scanSync(stmt.text).tokens.find((t: Token) => t.start >= location && t.text.toUpperCase() === word) ?? null;
}

const COLUMN_CONSTRAINT_WORDS = [
  'NOT',
  'NULL',
  'DEFAULT',
  'CHECK',
  'REFERENCES',
  'UNIQUE',
  'PRIMARY',
  'CONSTRAINT',
  'GENERATED',
  'COLLATE',
  'USING',
];

function tableFields(t: RelName): Record<string, string> {
  return t.schema ? { schema: t.schema, table: t.name } : { table: t.name };
}

function shellWord(s: string): string {
  return /^[A-Za-z0-9_.\-/]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

function command(name: string, kind: string, table: RelName | null, column?: string): string {
  const slug = name
    .replace(/[^A-Za-z0-9_]+/g, '_')
    .toLowerCase()
    .slice(0, 60);
  return [
    'pgshift new',
    slug,
    '--recipe',
    kind,
    ...(table?.schema ? ['--schema', shellWord(table.schema)] : []),
    ...(table ? ['--table', shellWord(table.name)] : []),
    ...(column ? ['--column', shellWord(column)] : []),
  ].join(' ');
}

function alternative(kind: string, name: string, table: RelName | null, fields: Record<string, unknown>, column?: string): SafeAlternative {
  return { command: command(name, kind, table, column), operation: { kind, ...(table ? tableFields(table) : {}), ...fields } };
}

interface AlterCmd {
  subtype?: string;
  name?: string;
  def?: Node;
}

function alterCmds(n: Node): AlterCmd[] {
  return ((n.cmds as Node[] | undefined) ?? []).map((c) => c.AlterTableCmd as AlterCmd);
}

function at(stmt: Statement, location: unknown): number {
  return (location as number) - stmt.offset;
}

function addColumn(stmt: Statement, table: RelName): SafeAlternative | null {
  const cmd = alterCmds(stmt.node).find((c) => c.subtype === 'AT_AddColumn');
  const col = cmd?.def?.ColumnDef as { colname?: string; typeName?: { location?: number }; constraints?: Node[] } | undefined;
  if (!col?.colname || col.typeName?.location === undefined) return null;
  const type = clauseFrom(stmt, at(stmt, col.typeName.location), COLUMN_CONSTRAINT_WORDS);
  const cons = (col.constraints ?? []).map((c) => c.Constraint as { contype?: string; location?: number });
  const def = cons.find((c) => c.contype === 'CONSTR_DEFAULT');
  const keyword = def?.location !== undefined ? tokenAfter(stmt, at(stmt, def.location), 'DEFAULT') : null;
  const defaultText = keyword ? clauseFrom(stmt, keyword.end, COLUMN_CONSTRAINT_WORDS) : null;
  const notNull = cons.some((c) => c.contype === 'CONSTR_NOTNULL');
  // A volatile default is the backfill expression; a constant one is the default of new rows.
  return alternative(
    'addColumn',
    `add_${col.colname}_to_${table.name}`,
    table,
    { column: col.colname, type, ...(defaultText ? { default: defaultText } : {}), notNull },
    col.colname,
  );
}

function changeType(stmt: Statement, table: RelName): SafeAlternative | null {
  const cmd = alterCmds(stmt.node).find((c) => c.subtype === 'AT_AlterColumnType');
  const col = cmd?.def?.ColumnDef as { typeName?: { location?: number }; raw_default?: { location?: number } } | undefined;
  if (!cmd?.name || col?.typeName?.location === undefined) return null;
  const type = clauseFrom(stmt, at(stmt, col.typeName.location), ['USING', 'COLLATE']);
  const using = tokenAfter(stmt, at(stmt, col.typeName.location), 'USING');
  const usingText = using ? clauseFrom(stmt, using.end, []) : null;
  return alternative(
    'changeColumnType',
    `change_${table.name}_${cmd.name}_type`,
    table,
    { column: cmd.name, type, ...(usingText ? { using: usingText } : {}) },
    cmd.name,
  );
}

function constraintAlternative(stmt: Statement, table: RelName): SafeAlternative | null {
  const cmd = alterCmds(stmt.node).find((c) => c.subtype === 'AT_AddConstraint');
  const con = cmd?.def?.Constraint as
    | { contype?: string; conname?: string; location?: number; fk_attrs?: Node[]; pk_attrs?: Node[]; pktable?: unknown; keys?: Node[] }
    | undefined;
  if (!con || con.location === undefined) return null;
  const name =
    con.conname ?? `${table.name}_${con.contype === 'CONSTR_CHECK' ? 'check' : con.contype === 'CONSTR_FOREIGN' ? 'fkey' : 'key'}`;
  if (con.contype === 'CONSTR_CHECK') {
    const check = tokenAfter(stmt, at(stmt, con.location), 'CHECK');
    const open = check ? tokenAfter(stmt, check.end, '(') : null;
    const body = open ? clauseFrom(stmt, open.end, []) : null;
    return body ? alternative('addCheck', `add_${name}`, table, { name, check: body }) : null;
  }
  if (con.contype === 'CONSTR_FOREIGN') {
    const target = relName(con.pktable);
    if (!target) return null;
    const columns = (con.fk_attrs ?? []).map((a) => (a.String as { sval?: string }).sval);
    const refColumns = (con.pk_attrs ?? []).map((a) => (a.String as { sval?: string }).sval);
    return alternative('addForeignKey', `add_${name}`, table, {
      name,
      columns,
      references: { ...tableFields(target), columns: refColumns.length ? refColumns : ['<column>'] },
    });
  }
  if (con.contype === 'CONSTR_UNIQUE') return alternative('addUnique', `add_${name}`, table, { name, columns: names(con.keys) });
  return null;
}

/** The pgshift operation that does safely what `stmt` does unsafely, when there is one. */
export function safeAlternative(rule: LintRuleId, stmt: Statement): SafeAlternative | null {
  const n = stmt.node;
  const table = relName(n.relation);
  switch (rule) {
    case 'create-index': {
      if (!table) return null;
      const columns = ((n.indexParams as Node[] | undefined) ?? []).map((p) => (p.IndexElem as { name?: string }).name);
      if (!columns.length || columns.some((c) => c === undefined)) return null;
      const name = (n.idxname as string | undefined) ?? `${table.name}_${columns.join('_')}_idx`;
      const where = n.whereClause ? tokenAfter(stmt, 0, 'WHERE') : null;
      const whereText = where ? clauseFrom(stmt, where.end, []) : null;
      const method = (n.accessMethod as string | undefined) ?? 'btree';
      return alternative('createIndex', `create_${name}`, table, {
        name,
        columns,
        unique: n.unique === true,
        ...(whereText ? { where: whereText } : {}),
        ...(method !== 'btree' ? { using: method } : {}),
      });
    }
    case 'drop-index': {
      const parts = names(
        ((n.objects as Node[] | undefined) ?? [])[0]?.List && ((n.objects as Node[])[0]!.List as { items?: unknown }).items,
      );
      const name = parts[parts.length - 1];
      if (!name) return null;
      return {
        command: command(`drop_${name}`, 'dropIndex', null),
        operation: { kind: 'dropIndex', ...(parts.length === 2 ? { schema: parts[0] } : {}), name },
      };
    }
    case 'add-column-rewrite':
    case 'add-required-column':
      return table ? addColumn(stmt, table) : null;
    case 'alter-type-rewrite':
      return table ? changeType(stmt, table) : null;
    case 'set-not-null': {
      const cmd = alterCmds(n).find((c) => c.subtype === 'AT_SetNotNull');
      return table && cmd?.name
        ? alternative('setNotNull', `set_${table.name}_${cmd.name}_not_null`, table, { column: cmd.name }, cmd.name)
        : null;
    }
    case 'constraint-not-valid':
    case 'index-constraint':
      return table ? constraintAlternative(stmt, table) : null;
    case 'rename-column':
      return table
        ? alternative(
            'renameColumn',
            `rename_${table.name}_${n.subname as string}`,
            table,
            { from: n.subname, to: n.newname },
            n.subname as string,
          )
        : null;
    case 'drop-column': {
      const cmd = alterCmds(n).find((c) => c.subtype === 'AT_DropColumn');
      return table && cmd?.name ? alternative('dropColumn', `drop_${table.name}_${cmd.name}`, table, { column: cmd.name }, cmd.name) : null;
    }
    case 'drop-table': {
      const parts = names(
        ((n.objects as Node[] | undefined) ?? [])[0]?.List && ((n.objects as Node[])[0]!.List as { items?: unknown }).items,
      );
      const t: RelName | null =
        parts.length === 2 ? { schema: parts[0]!, name: parts[1]! } : parts.length === 1 ? { schema: null, name: parts[0]! } : null;
      return t ? alternative('dropTable', `drop_${t.name}`, t, {}) : null;
    }
    case 'create-table-references': {
      if (!table) return null;
      for (const elt of (n.tableElts as Node[] | undefined) ?? []) {
        const col = elt.ColumnDef as { colname?: string; constraints?: Node[] } | undefined;
        const direct = elt.Constraint as
          { contype?: string; conname?: string; fk_attrs?: Node[]; pk_attrs?: Node[]; pktable?: unknown } | undefined;
        const fromColumn = (col?.constraints ?? []).map((c) => c.Constraint as typeof direct).find((c) => c?.contype === 'CONSTR_FOREIGN');
        const fk = direct?.contype === 'CONSTR_FOREIGN' ? direct : fromColumn;
        const target = relName(fk?.pktable);
        if (!fk || !target) continue;
        const columns = direct?.contype === 'CONSTR_FOREIGN' ? names(fk.fk_attrs) : [col!.colname!];
        const name = fk.conname ?? `${table.name}_${columns.join('_')}_fkey`;
        const refColumns = names(fk.pk_attrs);
        return alternative('addForeignKey', `add_${name}`, table, {
          name,
          columns,
          references: { ...tableFields(target), columns: refColumns.length ? refColumns : ['<column>'] },
        });
      }
      return null;
    }
    default:
      return null;
  }
}
