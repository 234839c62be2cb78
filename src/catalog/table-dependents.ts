import type { Queryable } from '../db/queryable.js';
import { queryRows } from '../db/queryable.js';

/**
 * A query listing, one phrase per row (`view v depends on it`), everything that stands in the way of a plain DROP TABLE
 * of the relation whose oid `table` (a SQL expression) gives. It follows pg_depend as DROP does:
 * the objects that go with the table (its indexes, constraints, triggers, rules, policies,
 * statistics, row type, TOAST table, owned sequences: auto and internal dependents, recursively),
 * then lists
 * - every object outside that set that depends on one of them normally (a foreign key from another
 *   table, a view or materialized view, an inheritance child, a function or column of its row
 *   type, another table's default using a sequence the table owns), which would make DROP fail,
 *   named with what it depends on when that is not the table itself;
 * - what DROP would take along silently but belongs to someone else: partitions and publication
 *   memberships;
 * - the table's own ties: a member of an extension, a partition or inheritance child of another
 *   table (whose readers would lose its rows).
 * Used by inspect, by verification and inside contract's transaction, so all three agree.
 */
export function tableDependentsSql(table: string): string {
  return `WITH RECURSIVE goes(classid, objid) AS (
    SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::oid, (${table})::oid
  UNION
    SELECT d.classid, d.objid FROM pg_catalog.pg_depend d JOIN goes g ON d.refclassid = g.classid AND d.refobjid = g.objid
     WHERE d.deptype IN ('a', 'i')
)
SELECT DISTINCT what FROM (
  SELECT coalesce(
           (SELECT pg_catalog.pg_describe_object('pg_catalog.pg_class'::pg_catalog.regclass, r.ev_class, 0)
              FROM pg_catalog.pg_rewrite r WHERE b.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND r.oid = b.objid AND r.rulename = '_RETURN'),
           pg_catalog.pg_describe_object(b.classid, b.objid, b.objsubid))
         || ' depends on it' || CASE WHEN pg_catalog.bool_or(b.direct) THEN '' ELSE ' (through ' || pg_catalog.min(b.through) || ')' END AS what
    FROM (SELECT d.classid, d.objid, d.objsubid,
                 d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid = (${table})::oid AS direct,
                 pg_catalog.pg_describe_object(d.refclassid, d.refobjid, 0) AS through
            FROM pg_catalog.pg_depend d JOIN goes g ON d.refclassid = g.classid AND d.refobjid = g.objid
           WHERE d.deptype = 'n'
             AND NOT EXISTS (SELECT 1 FROM goes x WHERE x.classid = d.classid AND x.objid = d.objid)) b
   GROUP BY b.classid, b.objid, b.objsubid
  UNION ALL
  SELECT 'it has partition ' || pg_catalog.pg_describe_object(g.classid, g.objid, 0) || ', which would go with it'
    FROM goes g JOIN pg_catalog.pg_class c ON g.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND c.oid = g.objid
   WHERE c.oid <> (${table})::oid AND c.relispartition AND c.relkind IN ('r', 'p', 'f')
  UNION ALL
  SELECT 'it is in publication ' || pg_catalog.quote_ident(p.pubname)
    FROM pg_catalog.pg_publication_rel pr JOIN pg_catalog.pg_publication p ON p.oid = pr.prpubid
   WHERE pr.prrelid = (${table})::oid
  UNION ALL
  SELECT 'it belongs to ' || pg_catalog.pg_describe_object(d.refclassid, d.refobjid, 0)
    FROM pg_catalog.pg_depend d
   WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = (${table})::oid AND d.deptype = 'e'
  UNION ALL
  SELECT CASE WHEN c.relispartition THEN 'it is a partition of ' ELSE 'it is an inheritance child of ' END
         || pg_catalog.pg_describe_object('pg_catalog.pg_class'::pg_catalog.regclass, i.inhparent, 0) || ', whose readers would lose its rows'
    FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
   WHERE i.inhrelid = (${table})::oid
) listed
ORDER BY what`;
}

/** What stands in the way of dropping the table with this oid (see tableDependentsSql), sorted. */
export async function tableDependents(db: Queryable, tableOid: number): Promise<string[]> {
  const rows = await queryRows<{ what: string }>(db, tableDependentsSql('$1::pg_catalog.oid'), [tableOid]);
  return rows.map((r) => r.what);
}
