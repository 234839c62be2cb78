import { queryRows, type Queryable } from '../db/queryable.js';

export interface ConstraintInfo {
  /** pg_constraint.contype: c check, f foreign key, p primary key, u unique, n not null, x exclusion, t trigger. */
  type: string;
  validated: boolean;
}

const CONSTRAINT_TYPES: Record<string, string> = {
  c: 'check constraint',
  f: 'foreign key',
  p: 'primary key',
  u: 'unique constraint',
  n: 'not-null constraint',
  x: 'exclusion constraint',
  t: 'constraint trigger',
};

export function constraintTypeName(type: string): string {
  return CONSTRAINT_TYPES[type] ?? `constraint of type ${type}`;
}

/** The constraint of that name on the table (names are unique per table), or null. */
export async function findConstraint(db: Queryable, tableOid: number, name: string): Promise<ConstraintInfo | null> {
  const [row] = await queryRows<{ type: string; validated: boolean }>(
    db,
    `SELECT contype::text AS type, convalidated AS validated FROM pg_catalog.pg_constraint WHERE conrelid = $1 AND conname = $2`,
    [tableOid, name],
  );
  return row ?? null;
}

export interface ColumnType {
  name: string;
  attnum: number;
  typeOid: number;
  /** format_type() with the type modifier, as PostgreSQL prints it. */
  type: string;
  collationOid: number;
  /** The column's collation, schema-qualified; null for a type that has none. */
  collation: { schema: string; name: string } | null;
}

/** Type and collation of the named columns that exist (dropped and system columns excluded). */
export async function columnTypes(db: Queryable, tableOid: number, names: readonly string[]): Promise<Map<string, ColumnType>> {
  const rows = await queryRows<{
    name: string;
    attnum: number;
    type_oid: string;
    type: string;
    coll_oid: string;
    coll_schema: string | null;
    coll_name: string | null;
  }>(
    db,
    `SELECT a.attname AS name, a.attnum::int AS attnum, a.atttypid::int8 AS type_oid,
            pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.attcollation::int8 AS coll_oid,
            cn.nspname AS coll_schema, co.collname AS coll_name
       FROM pg_catalog.pg_attribute a
       LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
       LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attname = ANY($2::text[])`,
    [tableOid, names],
  );
  return new Map(
    rows.map((r) => [
      r.name,
      {
        name: r.name,
        attnum: r.attnum,
        typeOid: Number(r.type_oid),
        type: r.type,
        collationOid: Number(r.coll_oid),
        collation: r.coll_schema && r.coll_name ? { schema: r.coll_schema, name: r.coll_name } : null,
      },
    ]),
  );
}

/**
 * The unique index a foreign key to these columns would use, as PostgreSQL chooses it: unique,
 * valid, not deferrable, not partial, no expressions, and its key columns exactly this set (in
 * any order). Its constraint's name when it backs one (primary key, unique), else the index's.
 */
export async function uniqueKeyOver(db: Queryable, tableOid: number, attnums: readonly number[]): Promise<string | null> {
  const [row] = await queryRows<{ name: string }>(
    db,
    `SELECT coalesce(con.conname, ic.relname) AS name
       FROM pg_catalog.pg_index i
       JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
       LEFT JOIN pg_catalog.pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u')
      WHERE i.indrelid = $1 AND i.indisunique AND i.indimmediate AND i.indisvalid
        AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indnkeyatts = cardinality($2::int2[])
        AND ARRAY(SELECT k FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS u(k, ord) WHERE ord <= i.indnkeyatts) @> $2::int2[]
      ORDER BY i.indisprimary DESC, 1
      LIMIT 1`,
    [tableOid, attnums],
  );
  return row?.name ?? null;
}
