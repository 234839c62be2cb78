import type { Queryable } from '../db/queryable.js';
import { queryRows } from '../db/queryable.js';
import { indexShapeSql } from './indexes.js';

// The catalog reads behind carry-over (src/operations/blocks/carry-over.ts): what depends on a
// column, and the indexes and constraints among those, with what it takes to rebuild them.

export interface Dependent {
  catalog: string;
  objid: string;
  what: string;
  relkind: string | null;
  contype: string | null;
  conrelid: string | null;
  confrelid: string | null;
  on_conkey: boolean;
  on_confkey: boolean;
  delsetcols: boolean;
}

/** Everything that depends on the column, besides its own default and NOT NULL. */
export async function columnCarryDependents(db: Queryable, tableOid: number, attnum: number): Promise<Dependent[]> {
  return queryRows<Dependent>(
    db,
    `SELECT DISTINCT d.classid::regclass::text AS catalog, d.objid::int8::text AS objid,
            pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) AS what,
            c.relkind::text AS relkind, con.contype::text AS contype,
            con.conrelid::int8::text AS conrelid, con.confrelid::int8::text AS confrelid,
            coalesce(con.conrelid = $1 AND $2 = ANY (con.conkey), false) AS on_conkey,
            coalesce(con.confrelid = $1 AND $2 = ANY (con.confkey), false) AS on_confkey,
            coalesce(pg_catalog.to_jsonb(con) ->> 'confdelsetcols' IS NOT NULL, false) AS delsetcols
       FROM pg_catalog.pg_depend d
       LEFT JOIN pg_catalog.pg_class c ON d.classid = 'pg_catalog.pg_class'::regclass AND c.oid = d.objid
       LEFT JOIN pg_catalog.pg_constraint con ON d.classid = 'pg_catalog.pg_constraint'::regclass AND con.oid = d.objid
      WHERE d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = $1 AND d.refobjsubid = $2
        AND d.deptype IN ('n', 'a')
        AND NOT (d.classid = 'pg_catalog.pg_attrdef'::regclass AND EXISTS (
              SELECT 1 FROM pg_catalog.pg_attrdef ad WHERE ad.oid = d.objid AND ad.adrelid = $1 AND ad.adnum = $2))
        AND coalesce(con.contype, '') <> 'n'
      ORDER BY 3`,
    [tableOid, attnum],
  );
}

export interface IndexRow {
  oid: string;
  name: string;
  unique: boolean;
  shape: string | null;
  replident: boolean;
  contype: string | null;
  conname: string | null;
  deferrable: boolean;
  deferred: boolean;
  plain_columns: string[] | null;
  has_predicate: boolean;
}

export async function indexesOf(db: Queryable, oids: string[]): Promise<IndexRow[]> {
  if (!oids.length) return [];
  return queryRows<IndexRow>(
    db,
    `SELECT i.indexrelid::int8::text AS oid, ic.relname AS name, i.indisunique AS unique, i.indisreplident AS replident,
            (${indexShapeSql('i.indexrelid')}) AS shape,
            con.contype::text AS contype, con.conname, coalesce(con.condeferrable, false) AS deferrable,
            coalesce(con.condeferred, false) AS deferred,
            CASE WHEN i.indexprs IS NULL THEN ARRAY(SELECT a.attname::text FROM unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY k(n, o)
                                                     JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o) END AS plain_columns,
            i.indpred IS NOT NULL AS has_predicate
       FROM pg_catalog.pg_index i
       JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
       LEFT JOIN pg_catalog.pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
      WHERE i.indexrelid = ANY ($1::oid[])
      ORDER BY ic.relname`,
    [oids],
  );
}

export interface ConstraintRow {
  oid: string;
  name: string;
  contype: string;
  schema: string;
  table: string;
  validated: boolean;
  definition: string;
  columns: string[];
  ref_schema: string | null;
  ref_table: string | null;
  ref_columns: string[] | null;
  tail: string;
}

const FK_ACTIONS: Record<string, string> = { a: 'NO ACTION', r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' };

export async function constraintsOf(db: Queryable, oids: string[]): Promise<ConstraintRow[]> {
  if (!oids.length) return [];
  const rows = await queryRows<
    Omit<ConstraintRow, 'tail'> & { matchtype: string; updtype: string; deltype: string; deferrable: boolean; deferred: boolean }
  >(
    db,
    `SELECT con.oid::int8::text AS oid, con.conname AS name, con.contype::text AS contype, n.nspname AS schema, c.relname AS table,
            con.convalidated AS validated, pg_catalog.pg_get_constraintdef(con.oid) AS definition,
            ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, o)
                    JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o) AS columns,
            rn.nspname AS ref_schema, rc.relname AS ref_table,
            CASE WHEN con.contype = 'f' THEN ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, o)
                    JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.o) END AS ref_columns,
            con.confmatchtype::text AS matchtype, con.confupdtype::text AS updtype, con.confdeltype::text AS deltype,
            con.condeferrable AS deferrable, con.condeferred AS deferred
       FROM pg_catalog.pg_constraint con
       JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_catalog.pg_class rc ON rc.oid = con.confrelid
       LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
      WHERE con.oid = ANY ($1::oid[])
      ORDER BY con.conname`,
    [oids],
  );
  return rows.map((r) => ({
    ...r,
    tail:
      (r.matchtype === 'f' ? ' MATCH FULL' : '') +
      ` ON UPDATE ${FK_ACTIONS[r.updtype] ?? 'NO ACTION'} ON DELETE ${FK_ACTIONS[r.deltype] ?? 'NO ACTION'}` +
      (r.deferrable ? ` DEFERRABLE INITIALLY ${r.deferred ? 'DEFERRED' : 'IMMEDIATE'}` : ''),
  }));
}
