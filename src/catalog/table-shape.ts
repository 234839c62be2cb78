import type { Queryable } from '../db/queryable.js';
import { queryRows } from '../db/queryable.js';

/** What CREATE TABLE decides about a table: its columns in order and its primary key. */
export interface TableShape {
  columns: {
    name: string;
    type: string;
    notNull: boolean;
    default: string | null;
    collation: string | null;
    identity: string;
    generated: string;
  }[];
  primaryKey: string[];
}

/**
 * The shape of a relation (a regclass text, e.g. a qualified name), or null when there is none.
 * Defaults that take the next value of a sequence are compared without the sequence's name, which
 * differs between two tables made from one definition.
 */
export async function tableShape(db: Queryable, relation: string): Promise<TableShape | null> {
  const [row] = await queryRows<{ shape: TableShape | null }>(
    db,
    `SELECT CASE WHEN r.oid IS NULL THEN NULL ELSE pg_catalog.json_build_object(
       'columns', (SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object(
           'name', a.attname, 'type', pg_catalog.format_type(a.atttypid, a.atttypmod), 'notNull', a.attnotnull,
           'default', pg_catalog.regexp_replace(pg_catalog.pg_get_expr(d.adbin, d.adrelid), 'nextval\\(''.*''::regclass\\)', 'nextval(<sequence>)'),
           'collation', CASE WHEN a.attcollation <> t.typcollation THEN co.collname END,
           'identity', a.attidentity, 'generated', a.attgenerated) ORDER BY a.attnum), '[]')
         FROM pg_catalog.pg_attribute a
         JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
         LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
         WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped),
       'primaryKey', (SELECT coalesce(pg_catalog.json_agg(a.attname ORDER BY k.n), '[]')
         FROM pg_catalog.pg_constraint c
         CROSS JOIN LATERAL pg_catalog.unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)
         JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
         WHERE c.conrelid = r.oid AND c.contype = 'p')) END AS shape
     FROM (SELECT pg_catalog.to_regclass($1) AS oid) r`,
    [relation],
  );
  return row?.shape ?? null;
}
