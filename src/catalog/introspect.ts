import type { Queryable } from '../db/queryable.js';
import { queryRows } from '../db/queryable.js';
import type { BatchKey, KeyColumn, TableRef } from '../plan/steps.js';

// Defined in core beside the step types that name tables; exported here as before.
export type { BatchKey, KeyColumn, TableRef };

export interface ColumnInfo {
  name: string;
  attnum: number;
  /** format_type() output: already quoted where needed, safe to render. */
  type: string;
  notNull: boolean;
  /** Set only when it differs from the type's default collation. */
  collation: { schema: string; name: string } | null;
  /** pg_get_expr() of the default, or null. */
  defaultExpr: string | null;
  identity: '' | 'a' | 'd';
  generated: '' | 's' | 'v';
  hasColumnPrivileges: boolean;
  comment: string | null;
}

export interface TableInfo extends TableRef {
  oid: number;
  relkind: string;
  columns: ColumnInfo[];
  key: BatchKey | null;
  hasInheritanceChildren: boolean;
  isTyped: boolean;
}

const RELKIND_NAMES: Record<string, string> = {
  r: 'table',
  p: 'partitioned table',
  v: 'view',
  m: 'materialized view',
  f: 'foreign table',
  S: 'sequence',
  i: 'index',
  I: 'partitioned index',
  c: 'composite type',
  t: 'TOAST table',
};

export function relkindName(relkind: string): string {
  return RELKIND_NAMES[relkind] ?? `relation of kind ${relkind}`;
}

export function describeRef(ref: TableRef): string {
  return ref.schema === 'public' ? ref.name : `${ref.schema}.${ref.name}`;
}

export async function findTable(db: Queryable, ref: TableRef): Promise<TableInfo | null> {
  const [rel] = await queryRows<{ oid: string; relkind: string; typed: boolean; children: boolean }>(
    db,
    `SELECT c.oid::int8 AS oid, c.relkind::text AS relkind, c.reloftype <> 0 AS typed,
            EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhparent = c.oid) AS children
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2`,
    [ref.schema, ref.name],
  );
  if (!rel) return null;
  const columns = await queryRows<{
    name: string;
    attnum: number;
    type: string;
    notnull: boolean;
    collschema: string | null;
    collname: string | null;
    default_expr: string | null;
    identity: '' | 'a' | 'd';
    generated: '' | 's' | 'v';
    has_acl: boolean;
    comment: string | null;
  }>(
    db,
    `SELECT a.attname AS name, a.attnum::int AS attnum, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
            a.attnotnull AS notnull,
            CASE WHEN a.attcollation <> t.typcollation THEN cn.nspname END AS collschema,
            CASE WHEN a.attcollation <> t.typcollation THEN co.collname END AS collname,
            pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS default_expr,
            a.attidentity::text AS identity, a.attgenerated::text AS generated,
            a.attacl IS NOT NULL AS has_acl,
            pg_catalog.col_description(a.attrelid, a.attnum) AS comment
       FROM pg_catalog.pg_attribute a
       JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
       LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
       LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [Number(rel.oid)],
  );
  return {
    ...ref,
    oid: Number(rel.oid),
    relkind: rel.relkind,
    isTyped: rel.typed,
    hasInheritanceChildren: rel.children,
    columns: columns.map((c) => ({
      name: c.name,
      attnum: c.attnum,
      type: c.type,
      notNull: c.notnull,
      collation: c.collschema && c.collname ? { schema: c.collschema, name: c.collname } : null,
      defaultExpr: c.default_expr,
      identity: c.identity,
      generated: c.generated,
      hasColumnPrivileges: c.has_acl,
      comment: c.comment,
    })),
    key: await findBatchKey(db, Number(rel.oid)),
  };
}

/**
 * The key to batch on: the primary key, else the narrowest valid, non-partial unique index over
 * plain NOT NULL columns. Keyset pagination needs a total order over non-null values.
 */
export async function findBatchKey(db: Queryable, tableOid: number): Promise<BatchKey | null> {
  const rows = await queryRows<{ source: string; primary: boolean; names: string[]; types: string[]; all_not_null: boolean }>(
    db,
    `SELECT coalesce(con.conname, ic.relname) AS source, i.indisprimary AS primary,
            array_agg(a.attname::text ORDER BY k.ord) AS names,
            array_agg(pg_catalog.format_type(a.atttypid, a.atttypmod) ORDER BY k.ord) AS types,
            bool_and(a.attnotnull) AS all_not_null
       FROM pg_catalog.pg_index i
       JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
       LEFT JOIN pg_catalog.pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
       CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
        AND k.ord <= i.indnkeyatts
      GROUP BY 1, 2
      ORDER BY i.indisprimary DESC, count(*), 1`,
    [tableOid],
  );
  const best = rows.find((r) => r.primary) ?? rows.find((r) => r.all_not_null);
  if (!best) return null;
  return {
    source: best.source,
    kind: best.primary ? 'primary key' : 'unique not null index',
    columns: best.names.map((name, i) => ({ name, type: best.types[i] ?? 'text' })),
  };
}

/**
 * Objects that depend on a column and that a rename cannot yet carry over: indexes, constraints
 * (other than NOT NULL), foreign keys into it, views, rules, policies, triggers that name it,
 * generated columns, owned sequences, statistics, publications. The column's own default is not
 * listed (it is carried over).
 */
export async function columnDependents(db: Queryable, tableOid: number, attnum: number): Promise<string[]> {
  const rows = await queryRows<{ what: string }>(
    db,
    `SELECT DISTINCT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) AS what
       FROM pg_catalog.pg_depend d
      WHERE d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = $1 AND d.refobjsubid = $2
        AND d.deptype IN ('n', 'a')
        AND NOT (d.classid = 'pg_catalog.pg_attrdef'::regclass AND EXISTS (
              SELECT 1 FROM pg_catalog.pg_attrdef ad WHERE ad.oid = d.objid AND ad.adrelid = $1 AND ad.adnum = $2))
        AND NOT (d.classid = 'pg_catalog.pg_constraint'::regclass AND EXISTS (
              SELECT 1 FROM pg_catalog.pg_constraint c WHERE c.oid = d.objid AND c.contype = 'n'))
      ORDER BY 1`,
    [tableOid, attnum],
  );
  return rows.map((r) => r.what);
}

export type TriggerState = 'enabled' | 'disabled' | 'missing';

export async function triggerState(db: Queryable, table: TableRef, trigger: string): Promise<TriggerState> {
  const [row] = await queryRows<{ tgenabled: string }>(
    db,
    `SELECT t.tgenabled::text AS tgenabled
       FROM pg_catalog.pg_trigger t
       JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND t.tgname = $3`,
    [table.schema, table.name, trigger],
  );
  if (!row) return 'missing';
  // 'O' fires in ordinary sessions, 'A' always; 'D' disabled, 'R' only under session_replication_role=replica.
  return row.tgenabled === 'O' || row.tgenabled === 'A' ? 'enabled' : 'disabled';
}

export async function functionExists(db: Queryable, schema: string, name: string): Promise<boolean> {
  const rows = await queryRows(
    db,
    `SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = $1 AND p.proname = $2`,
    [schema, name],
  );
  return rows.length > 0;
}

/** Planner's row estimate, or an exact count for small never-analysed tables, or null. */
export async function estimateRows(db: Queryable, table: TableRef): Promise<number | null> {
  const [row] = await queryRows<{ reltuples: number; relpages: number }>(
    db,
    `SELECT c.reltuples::float8 AS reltuples, c.relpages::int AS relpages
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2`,
    [table.schema, table.name],
  );
  if (!row) return null;
  if (row.reltuples >= 0) return Math.round(row.reltuples);
  return null;
}
