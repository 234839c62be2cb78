import type { ColumnInfo, TableInfo, TableRef } from '../../catalog/introspect.js';
import { indexShapeSql } from '../../catalog/indexes.js';
import type { ConstraintRow, IndexRow } from '../../catalog/carry-over.js';
import { singleStatement, type Queryable } from '../../db/queryable.js';
import { PgshiftSqlState, sqlStateOf } from '../../errors.js';
import { dollarQuote, ident, literal, qualified } from '../../sql/ident.js';

export interface CarryTarget {
  /** The shadow column's name while the migration runs. */
  shadow: string;
  /** For a type change: the new type and the USING expression over the old row. */
  retype?: { type: string; using: string };
}

const PROBE_DONE = PgshiftSqlState.carryOverProbeDone;

export interface ProbeResult {
  indexes: Record<string, string | null> | null;
  checks: Record<string, string> | null;
  default: string | null;
  /** The shadow's type (format_type) and its collation where not the type's default. */
  type: string;
  collation: { schema: string; name: string } | null;
}

/**
 * The probe: an empty temporary copy of the table (and of each table a foreign key links it to)
 * with the column's indexes and constraints, then the change (retype, rename to the shadow),
 * then the definitions read back. Runs in a DO block that always raises, so nothing stays.
 */
export async function runProbe(
  db: Queryable,
  table: TableInfo,
  column: ColumnInfo,
  target: CarryTarget,
  indexes: IndexRow[],
  constraints: ConstraintRow[],
): Promise<ProbeResult | { error: string }> {
  const copy = (ref: TableRef) => (ref.schema === table.schema && ref.name === table.name ? 'pg_temp.pgshift_probe' : null);
  const lines: string[] = ['BEGIN', `  PERFORM pg_catalog.set_config('lock_timeout', '2s', true);`];
  lines.push(`  CREATE TEMP TABLE pgshift_probe (LIKE ${qualified(table.schema, table.name)} INCLUDING DEFAULTS);`);
  let others = 0;
  const otherCopy = new Map<string, string>();
  const copyOf = (ref: TableRef): string => {
    const self = copy(ref);
    if (self) return self;
    const key = `${ref.schema}.${ref.name}`;
    let name = otherCopy.get(key);
    if (!name) {
      name = `pg_temp.pgshift_probe_${others++}`;
      otherCopy.set(key, name);
      lines.push(`  CREATE TEMP TABLE ${name.slice('pg_temp.'.length)} (LIKE ${qualified(ref.schema, ref.name)});`);
    }
    return name;
  };
  for (const i of indexes)
    if (!i.contype && i.shape)
      lines.push(`  CREATE ${i.unique ? 'UNIQUE ' : ''}INDEX ${ident(i.name)} ON pg_temp.pgshift_probe ${i.shape};`);
  for (const c of constraints)
    if (c.contype === 'p' || c.contype === 'u' || c.contype === 'c')
      lines.push(`  ALTER TABLE pg_temp.pgshift_probe ADD CONSTRAINT ${ident(c.name)} ${c.definition};`);
  for (const c of constraints) {
    if (c.contype !== 'f') continue;
    const from = copyOf({ schema: c.schema, name: c.table });
    const to = copyOf({ schema: c.ref_schema!, name: c.ref_table! });
    if (to !== 'pg_temp.pgshift_probe')
      lines.push(`  BEGIN ALTER TABLE ${to} ADD UNIQUE (${c.ref_columns!.map(ident).join(', ')}); EXCEPTION WHEN others THEN NULL; END;`);
    lines.push(
      `  ALTER TABLE ${from} ADD CONSTRAINT ${ident(c.name)} FOREIGN KEY (${c.columns.map(ident).join(', ')}) REFERENCES ${to} (${c.ref_columns!.map(ident).join(', ')});`,
    );
  }
  if (target.retype)
    lines.push(
      `  ALTER TABLE pg_temp.pgshift_probe ALTER COLUMN ${ident(column.name)} TYPE ${target.retype.type} USING (${target.retype.using});`,
    );
  lines.push(`  ALTER TABLE pg_temp.pgshift_probe RENAME COLUMN ${ident(column.name)} TO ${ident(target.shadow)};`);
  const indexNames = indexes.map((i) => (i.contype ? i.conname! : i.name));
  lines.push(
    `  RAISE EXCEPTION USING ERRCODE = '${PROBE_DONE}', MESSAGE = pg_catalog.json_build_object(` +
      `'indexes', (SELECT pg_catalog.json_object_agg(x.name, (${indexShapeSql('x.oid')})) FROM (SELECT ic.oid, coalesce(con.conname, ic.relname) AS name ` +
      `FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid ` +
      `LEFT JOIN pg_catalog.pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid ` +
      `WHERE i.indrelid = 'pg_temp.pgshift_probe'::regclass AND coalesce(con.conname, ic.relname) = ANY (ARRAY[${indexNames.map(literal).join(', ')}]::text[])) x), ` +
      `'checks', (SELECT pg_catalog.json_object_agg(conname, pg_catalog.pg_get_constraintdef(oid)) FROM pg_catalog.pg_constraint ` +
      `WHERE conrelid = 'pg_temp.pgshift_probe'::regclass AND contype = 'c'), ` +
      `'default', (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid) FROM pg_catalog.pg_attrdef d JOIN pg_catalog.pg_attribute a ` +
      `ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = 'pg_temp.pgshift_probe'::regclass AND a.attname = ${literal(target.shadow)}), ` +
      `'type', (SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a ` +
      `WHERE a.attrelid = 'pg_temp.pgshift_probe'::regclass AND a.attname = ${literal(target.shadow)}), ` +
      `'collation', (SELECT pg_catalog.json_build_object('schema', cn.nspname, 'name', co.collname) FROM pg_catalog.pg_attribute a ` +
      `JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation ` +
      `JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace ` +
      `WHERE a.attrelid = 'pg_temp.pgshift_probe'::regclass AND a.attname = ${literal(target.shadow)} AND a.attcollation <> ty.typcollation))::text;`,
  );
  lines.push('END');
  try {
    await db.query(singleStatement(`DO ${dollarQuote(`\n${lines.join('\n')}\n`)}`));
  } catch (error) {
    if (sqlStateOf(error) === PROBE_DONE) return JSON.parse((error as Error).message) as ProbeResult;
    const e = error as Error & { hint?: string };
    return { error: `${e.message}${e.hint ? ` (${e.hint})` : ''}` };
  }
  throw new Error('bug: the carry-over probe did not raise');
}
