import type { Queryable } from '../db/queryable.js';
import { queryRows } from '../db/queryable.js';
import { literal, qualified } from '../sql/ident.js';
import { describeRef, type TableRef } from './introspect.js';

/** A relation found by schema and name; the index fields are set only when it is an index. */
export interface RelationInfo {
  oid: number;
  relkind: string;
  index: IndexInfo | null;
}

export interface IndexInfo {
  table: TableRef;
  /** indisvalid and indisready: usable by queries and maintained by writes. */
  valid: boolean;
  unique: boolean;
  /** Key columns in order; an expression column is shown as `(expression)`. */
  columns: string[];
  /** pg_get_indexdef(). */
  definition: string;
  /** Everything after `CREATE [UNIQUE] INDEX name ON table `: method, columns, options, predicate. */
  shape: string | null;
  /** Partial index predicate (pg_get_expr), or null. */
  predicate: string | null;
  replicaIdentity: boolean;
  /** The partitioned index this one is a partition of. */
  parent: string | null;
}

export interface IndexConstraint {
  name: string;
  /** pg_constraint.contype: p primary key, u unique, x exclusion, f foreign key (referencing it). */
  type: string;
  table: TableRef;
}

/**
 * SQL giving the shape of index `oid` (a SQL expression): pg_get_indexdef() without its
 * `CREATE [UNIQUE] INDEX <name> ON <table> ` prefix, so indexes on different tables or with
 * different names compare equal when they are built the same way (pg_get_indexdef() calls this
 * session's temporary schema pg_temp). Null if the prefix is not the expected one (then nothing
 * compares equal to it).
 */
export function indexShapeSql(oid: string): string {
  return `SELECT CASE WHEN left(d.def, length(d.prefix)) = d.prefix THEN substr(d.def, length(d.prefix) + 1) END AS shape
    FROM (SELECT pg_catalog.pg_get_indexdef(sx.indexrelid) AS def,
                 format('CREATE %sINDEX %I ON %I.%I ', CASE WHEN sx.indisunique THEN 'UNIQUE ' END, si.relname,
                        CASE WHEN stn.oid = pg_catalog.pg_my_temp_schema() THEN 'pg_temp' ELSE stn.nspname END, st.relname) AS prefix
            FROM pg_catalog.pg_index sx
            JOIN pg_catalog.pg_class si ON si.oid = sx.indexrelid
            JOIN pg_catalog.pg_class st ON st.oid = sx.indrelid
            JOIN pg_catalog.pg_namespace stn ON stn.oid = st.relnamespace
           WHERE sx.indexrelid = ${oid}) d`;
}

/** The relation called `name` in `schema` (indexes share the namespace of tables), or null. */
export async function findRelation(db: Queryable, schema: string, name: string): Promise<RelationInfo | null> {
  const [row] = await queryRows<{
    oid: string;
    relkind: string;
    is_index: boolean;
    table_schema: string | null;
    table_name: string | null;
    valid: boolean | null;
    unique: boolean | null;
    replident: boolean | null;
    columns: string[] | null;
    definition: string | null;
    shape: string | null;
    predicate: string | null;
    parent: string | null;
  }>(
    db,
    `SELECT c.oid::int8 AS oid, c.relkind::text AS relkind, i.indexrelid IS NOT NULL AS is_index,
            tn.nspname AS table_schema, t.relname AS table_name,
            i.indisvalid AND i.indisready AS valid, i.indisunique AS unique, i.indisreplident AS replident,
            CASE WHEN i.indexrelid IS NOT NULL THEN ARRAY(
              SELECT coalesce(a.attname::text, '(expression)')
                FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
                LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum AND k.attnum > 0
               WHERE k.n <= i.indnkeyatts ORDER BY k.n) END AS columns,
            CASE WHEN i.indexrelid IS NOT NULL THEN pg_catalog.pg_get_indexdef(c.oid) END AS definition,
            CASE WHEN i.indexrelid IS NOT NULL THEN (${indexShapeSql('c.oid')}) END AS shape,
            pg_catalog.pg_get_expr(i.indpred, i.indrelid) AS predicate,
            (SELECT p.inhparent::regclass::text FROM pg_catalog.pg_inherits p WHERE p.inhrelid = c.oid) AS parent
       FROM pg_catalog.pg_class c
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
       LEFT JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
       LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2`,
    [schema, name],
  );
  if (!row) return null;
  return {
    oid: Number(row.oid),
    relkind: row.relkind,
    index: row.is_index
      ? {
          table: { schema: row.table_schema!, name: row.table_name! },
          valid: row.valid === true,
          unique: row.unique === true,
          columns: row.columns ?? [],
          definition: row.definition ?? '',
          shape: row.shape,
          predicate: row.predicate,
          replicaIdentity: row.replident === true,
          parent: row.parent,
        }
      : null,
  };
}

/** Constraints that need the index: the ones it backs, and foreign keys that reference through it. */
export async function indexConstraints(db: Queryable, indexOid: number): Promise<IndexConstraint[]> {
  const rows = await queryRows<{ name: string; type: string; schema: string; table: string }>(
    db,
    `SELECT con.conname AS name, con.contype::text AS type, n.nspname AS schema, t.relname AS table
       FROM pg_catalog.pg_constraint con
       JOIN pg_catalog.pg_class t ON t.oid = con.conrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
      WHERE con.conindid = $1
      ORDER BY con.contype <> 'f' DESC, 1`,
    [indexOid],
  );
  return rows.map((r) => ({ name: r.name, type: r.type, table: { schema: r.schema, name: r.table } }));
}

export type IndexState = 'missing' | 'valid' | 'invalid';

/**
 * State of the index `name` in `schema`: a failed or interrupted CREATE INDEX CONCURRENTLY leaves
 * it with indisvalid (or indisready) false; such an index is maintained by writes but never used.
 */
export async function indexState(db: Queryable, schema: string, name: string): Promise<IndexState> {
  const [row] = await queryRows<{ valid: boolean }>(
    db,
    `SELECT i.indisvalid AND i.indisready AS valid
       FROM pg_catalog.pg_index i
       JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2`,
    [schema, name],
  );
  if (!row) return 'missing';
  return row.valid ? 'valid' : 'invalid';
}

/**
 * Verification's catalog check for an index a migration builds: it exists on the table, is valid
 * and ready, and is unique exactly when asked. One row `{ ok, detail }`.
 */
export function indexValidCheckSql(index: { schema: string; name: string; table: TableRef; unique: boolean }): string {
  const table = literal(qualified(index.table.schema, index.table.name));
  const name = `index ${index.name}`;
  return `SELECT coalesce(bool_and(i.indisvalid AND i.indisready AND i.indisunique = ${index.unique} AND i.indrelid = to_regclass(${table})), false) AS ok,
       CASE WHEN count(*) = 0 THEN ${literal(`${name} does not exist`)}
            WHEN NOT bool_and(i.indrelid = to_regclass(${table})) THEN ${literal(`${name} is not on ${describeRef(index.table)}`)}
            WHEN NOT bool_and(i.indisvalid AND i.indisready) THEN ${literal(`${name} is INVALID`)}
            WHEN NOT bool_and(i.indisunique = ${index.unique}) THEN ${literal(`${name} is ${index.unique ? 'not ' : ''}unique`)} END AS detail
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = ${literal(index.schema)} AND c.relname = ${literal(index.name)}`;
}
