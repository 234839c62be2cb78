import { describeRef, type ColumnInfo, type TableInfo, type TableRef } from '../../catalog/introspect.js';
import { indexValidCheckSql } from '../../catalog/indexes.js';
import { queryRows, type Queryable } from '../../db/queryable.js';
import type { PlanProblem } from '../../errors.js';
import { ident, literal, qualified } from '../../sql/ident.js';
import { constraintExistsSql } from './constraint-steps.js';
import { columnCarryDependents, constraintsOf, indexesOf } from '../../catalog/carry-over.js';
import { runProbe, type CarryTarget } from './carry-over-probe.js';
import type { CatalogCheck, DdlStep } from '../../plan/steps.js';

/**
 * Carry-over: everything that hangs on a column being renamed or retyped through a shadow column
 * is rebuilt on the shadow after the backfill (indexes CONCURRENTLY, constraints NOT VALID then
 * VALIDATE) and swapped in at contract under the old names. The new definitions come from
 * PostgreSQL itself: the objects are recreated on an empty temporary copy of the table, the
 * column is retyped and renamed there, and the definitions are read back. What cannot be carried
 * safely is listed at inspection.
 */

/** An index over the column, rebuilt on the shadow under a temporary name. */
export interface CarriedIndex {
  name: string;
  unique: boolean;
  /** The new index's shape: everything after `ON <table> `. */
  shape: string;
  /** Plain key columns (final names) for sampling duplicates; empty when an expression is involved. */
  columns: string[];
  where: string | null;
  /** Set when the index backs a PRIMARY KEY or UNIQUE constraint, re-attached with USING INDEX. */
  constraint: { type: 'p' | 'u'; deferrable: boolean; deferred: boolean } | null;
  replicaIdentity: boolean;
}

/** A CHECK or FOREIGN KEY rebuilt NOT VALID, validated after the backfill, renamed at contract. */
export interface CarriedConstraint {
  name: string;
  /** The table the constraint is on (another table for a foreign key into the column). */
  table: TableRef;
  /** Definition on the shadow, without NOT VALID. */
  definition: string;
  validated: boolean;
  kind: 'check' | 'foreign key out' | 'foreign key in';
  /** A foreign key's other side: the referenced columns (out), or the referencing ones (in). */
  partner?: { schema: string; table: string; columns: string[] };
}

export interface CarryOverFacts {
  /** The new column's type and collation, as PostgreSQL formats them after the change. */
  type?: string;
  collation?: { schema: string; name: string } | null;
  indexes: CarriedIndex[];
  constraints: CarriedConstraint[];
  /** The default, as it reads on the new column (converted to the new type). */
  defaultExpr: string | null;
  /** A sequence owned by the column (serial), handed to the new column at contract. */
  ownedSequence: TableRef | null;
  /** GENERATED … AS IDENTITY: rebuilt on the new column at contract, continuing the sequence. */
  identity: { always: boolean; sequence: TableRef; options: string } | null;
  /** GRANT statements for the column's privileges, rendered for the shadow. */
  grants: string[];
}

export const NO_CARRY_OVER: CarryOverFacts = {
  indexes: [],
  constraints: [],
  defaultExpr: null,
  ownedSequence: null,
  identity: null,
  grants: [],
};

function foreignKeySql(columns: string[], ref: TableRef, refColumns: string[], tail: string): string {
  return `FOREIGN KEY (${columns.map(ident).join(', ')}) REFERENCES ${qualified(ref.schema, ref.name)} (${refColumns.map(ident).join(', ')})${tail}`;
}

export type { CarryTarget } from './carry-over-probe.js';

/**
 * Reads what hangs on `column` and renders it for the shadow column, refusing (as plan problems)
 * what cannot be carried. The conversion is tried on an empty temporary copy of the table, so a
 * USING expression, an index or CHECK that no longer fits the new type, or a foreign key whose
 * types stop matching, is reported here with PostgreSQL's own message.
 */
export async function inspectCarryOver(
  db: Queryable,
  table: TableInfo,
  column: ColumnInfo,
  target: CarryTarget,
  path: string,
  finalName: string,
): Promise<{ facts: CarryOverFacts | null; problems: PlanProblem[] }> {
  const problems: PlanProblem[] = [];
  const where = describeRef(table);
  const refuse = (what: string, why: string) =>
    problems.push({
      path: `${path}.${finalName === column.name ? 'column' : 'from'}`,
      message: `${column.name} has ${what}, which cannot be carried over: ${why}`,
    });

  if (column.generated)
    refuse('a generation expression (GENERATED ALWAYS AS ...)', 'a stored generated column cannot be written by the dual-write trigger');
  const deps = await columnCarryDependents(db, table.oid, column.attnum);
  const indexOids = new Set<string>();
  const constraintOids = new Set<string>();
  let ownedSequence: string | null = null;
  for (const d of deps) {
    if (d.catalog === 'pg_class' && d.relkind === 'i') indexOids.add(d.objid);
    else if (d.catalog === 'pg_class' && d.relkind === 'S') ownedSequence = d.objid;
    else if (d.catalog === 'pg_constraint' && d.contype === 'c') constraintOids.add(d.objid);
    else if (d.catalog === 'pg_constraint' && (d.contype === 'p' || d.contype === 'u')) constraintOids.add(d.objid);
    else if (d.catalog === 'pg_constraint' && d.contype === 'f') {
      if (d.delsetcols) refuse(d.what, 'ON DELETE SET NULL/SET DEFAULT with a column list is not carried yet');
      else if (d.on_conkey && d.on_confkey) refuse(d.what, 'it both references and is referenced through this column');
      else constraintOids.add(d.objid);
    } else if (d.catalog === 'pg_constraint' && d.contype === 'x')
      refuse(d.what, 'exclusion constraints are not carried yet; drop it and recreate it after the migration');
    else if (d.catalog === 'pg_rewrite')
      refuse(d.what, 'a view or rule reads the column; recreate it on the new column after contract, or drop it first');
    else if (d.catalog === 'pg_policy')
      refuse(d.what, 'a row-level security policy reads the column; policies cannot be swapped atomically with the column');
    else if (d.catalog === 'pg_trigger')
      refuse(d.what, 'a trigger names the column (UPDATE OF or WHEN); it would stop firing for the new column');
    else if (d.catalog === 'pg_attrdef') refuse(d.what, 'a generated column is computed from it');
    else if (d.catalog === 'pg_statistic_ext')
      refuse(d.what, 'extended statistics are not carried yet; drop them and recreate them after the migration');
    else if (d.catalog === 'pg_publication_rel')
      refuse(d.what, 'a publication lists the column; logical replication subscribers would lose it');
    else refuse(d.what, 'pgshift does not know how to carry this kind of object');
  }
  const constraints = await constraintsOf(db, [...constraintOids]);
  for (const c of constraints)
    if ((c.contype === 'p' || c.contype === 'u') && !c.definition) refuse(`constraint ${c.name}`, 'its definition cannot be read');
  const backing = (
    await queryRows<{ oid: string }>(
      db,
      `SELECT conindid::int8::text AS oid FROM pg_catalog.pg_constraint WHERE oid = ANY ($1::oid[]) AND contype IN ('p', 'u')`,
      [[...constraintOids]],
    )
  ).map((r) => r.oid);
  const indexes = await indexesOf(db, [...new Set([...indexOids, ...backing])]);
  for (const i of indexes) {
    if (i.contype === 'x') refuse(`index ${i.name}`, 'it backs an exclusion constraint');
    if (!i.shape) refuse(`index ${i.name}`, 'its definition cannot be read');
  }

  const identity = column.identity
    ? (
        await queryRows<{
          schema: string;
          name: string;
          increment: string;
          min: string;
          max: string;
          start: string;
          cache: string;
          cycle: boolean;
          type_min: boolean;
          type_max: boolean;
        }>(
          db,
          `SELECT n.nspname AS schema, c.relname AS name, s.seqincrement::text AS increment, s.seqmin::text AS min, s.seqmax::text AS max,
                  s.seqstart::text AS start, s.seqcache::text AS cache, s.seqcycle AS cycle,
                  s.seqmin IN (-32768, -2147483648, -9223372036854775808, 1) AS type_min,
                  s.seqmax IN (32767, 2147483647, 9223372036854775807) AS type_max
             FROM pg_catalog.pg_sequence s
             JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE s.seqrelid = pg_catalog.pg_get_serial_sequence(${literal(qualified(table.schema, table.name))}, ${literal(column.name)})::regclass`,
        )
      )[0]
    : undefined;
  if (column.identity && !identity) refuse('an identity', 'its sequence cannot be found');
  const owned = ownedSequence
    ? ((
        await queryRows<{ schema: string; name: string }>(
          db,
          `SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::oid`,
          [ownedSequence],
        )
      )[0] ?? null)
    : null;
  const grants = await queryRows<{ grantee: string | null; privilege: string; grantable: boolean }>(
    db,
    `SELECT CASE WHEN x.grantee = 0 THEN NULL ELSE r.rolname END AS grantee, x.privilege_type AS privilege, x.is_grantable AS grantable
       FROM pg_catalog.pg_attribute a, LATERAL pg_catalog.aclexplode(a.attacl) x
       LEFT JOIN pg_catalog.pg_roles r ON r.oid = x.grantee
      WHERE a.attrelid = $1 AND a.attnum = $2
      ORDER BY 1, 2`,
    [table.oid, column.attnum],
  );
  if (problems.length) return { facts: null, problems };

  const probe = await runProbe(db, table, column, target, indexes, constraints);
  if ('error' in probe) {
    const what = target.retype ? `changing ${column.name} to ${target.retype.type}` : `renaming ${column.name}`;
    problems.push({
      path: `${path}.${target.retype ? 'type' : 'to'}`,
      message: `${what} fails on an empty copy of ${where}: ${probe.error}`,
    });
    return { facts: null, problems };
  }
  const rename = (c: string) => (c === column.name ? target.shadow : c);
  const carriedIndexes: CarriedIndex[] = indexes.map((i) => ({
    name: i.contype ? i.conname! : i.name,
    unique: i.unique,
    shape: probe.indexes?.[i.name] ?? '',
    columns: i.plain_columns && !i.has_predicate ? i.plain_columns.map((c) => (c === column.name ? finalName : c)) : [],
    where: null,
    constraint: i.contype === 'p' || i.contype === 'u' ? { type: i.contype, deferrable: i.deferrable, deferred: i.deferred } : null,
    replicaIdentity: i.replident,
  }));
  for (const i of carriedIndexes)
    if (!i.shape) problems.push({ path: `${path}.table`, message: `index ${i.name} could not be rebuilt on a copy of ${where}` });
  const carried: CarriedConstraint[] = [];
  constraints.forEach((c) => {
    const on = { schema: c.schema, name: c.table };
    if (c.contype === 'c') {
      const definition = probe.checks?.[c.name];
      if (!definition) problems.push({ path: `${path}.table`, message: `CHECK ${c.name} could not be rebuilt on a copy of ${where}` });
      else
        carried.push({ name: c.name, table: on, definition: definition.replace(/ NOT VALID$/, ''), validated: c.validated, kind: 'check' });
    } else if (c.contype === 'f') {
      const out = c.schema === table.schema && c.table === table.name && c.columns.includes(column.name);
      const ref = { schema: c.ref_schema!, name: c.ref_table! };
      const definition = out
        ? foreignKeySql(c.columns.map(rename), ref, c.ref_columns!, c.tail)
        : foreignKeySql(c.columns, ref, c.ref_columns!.map(rename), c.tail);
      const partner = out
        ? { schema: ref.schema, table: ref.name, columns: c.ref_columns! }
        : { schema: c.schema, table: c.table, columns: c.columns };
      carried.push({
        name: c.name,
        table: on,
        definition,
        validated: c.validated,
        kind: out ? 'foreign key out' : 'foreign key in',
        partner,
      });
    }
  });
  if (problems.length) return { facts: null, problems };

  const shadowColumn = ident(target.shadow);
  const t = qualified(table.schema, table.name);
  return {
    facts: {
      type: probe.type,
      collation: probe.collation,
      indexes: carriedIndexes,
      constraints: carried,
      defaultExpr: column.identity ? null : probe.default,
      ownedSequence: column.identity ? null : owned,
      identity: identity
        ? {
            always: column.identity === 'a',
            sequence: { schema: identity.schema, name: identity.name },
            options: [
              `INCREMENT BY ${identity.increment}`,
              identity.type_min ? null : `MINVALUE ${identity.min}`,
              identity.type_max ? null : `MAXVALUE ${identity.max}`,
              `START WITH ${identity.start}`,
              `CACHE ${identity.cache}`,
              identity.cycle ? 'CYCLE' : 'NO CYCLE',
            ]
              .filter((x) => x !== null)
              .join(' '),
          }
        : null,
      grants: grants.map(
        (g) =>
          `GRANT ${g.privilege} (${shadowColumn}) ON ${t} TO ${g.grantee === null ? 'PUBLIC' : ident(g.grantee)}${g.grantable ? ' WITH GRANT OPTION' : ''}`,
      ),
    },
    problems,
  };
}

export interface CarryOverSteps {
  /** Grants on the shadow, so the new app version can use it during the migration. */
  expand: DdlStep[];
  /** Indexes built CONCURRENTLY, then constraints NOT VALID and VALIDATE, after the backfill. */
  afterBackfill: DdlStep[];
  checks: CatalogCheck[];
  /** In the contract transaction, before the old column is dropped (it takes its objects with it). */
  beforeDrop: DdlStep[];
  /** After the drop (and the rename of the shadow): the new objects take the old names. */
  afterDrop: DdlStep[];
  /**
   * Foreign keys into the shadow live on other tables: dropped before the shadow. The indexes and
   * the other constraints on the shadow (an INVALID index of an interrupted build included) go
   * with the shadow's DROP COLUMN, in the same transaction.
   */
  rollback: DdlStep[];
}

/**
 * Renders the carry-over: `column` is the old column, `shadow` the new one while the migration
 * runs, `finalName` what the new one is called after contract (the shadow's own name for a
 * rename; the old name for a type change, renamed inside the contract transaction).
 */
export function carryOverSteps(o: {
  table: TableRef;
  column: string;
  shadow: string;
  finalName: string;
  facts: CarryOverFacts;
  /** ObjectNames.hash of the operation, for temporary names. */
  hash: string;
  index: number;
}): CarryOverSteps {
  const { table, facts, index } = o;
  const t = qualified(table.schema, table.name);
  const id = (phase: string, what: string) => `${index}.${phase}.${what}`;
  const step = (
    phase: string,
    what: string,
    description: string,
    sql: string,
    lock: DdlStep['lock'],
    tx: DdlStep['tx'],
    on: TableRef = table,
    skipIf?: string,
  ): DdlStep => ({
    id: id(phase, what),
    description,
    sql,
    lock,
    table: on,
    // A foreign key into the column lives on another table and also locks this one.
    ...(on.schema !== table.schema || on.name !== table.name ? { otherTable: table } : {}),
    tx,
    ...(skipIf ? { skipIf } : {}),
  });
  const out: CarryOverSteps = { expand: [], afterBackfill: [], checks: [], beforeDrop: [], afterDrop: [], rollback: [] };
  // Temporary names: short, stable across runs (a rerun finds what an earlier run built), and
  // derived from the operation, so they cannot collide with the user's.
  const indexes = facts.indexes.map((i, n) => ({ ...i, temp: `pgshift_${o.hash}_i${n}` }));
  const constraints = facts.constraints.map((c, n) => ({ ...c, temp: `pgshift_${o.hash}_c${n}` }));

  facts.grants.forEach((grant, n) =>
    out.expand.push(step('expand', `grant-${n}`, `give ${o.shadow} the column privileges of ${o.column}`, grant, 'ACCESS SHARE', 'phase')),
  );

  for (const i of indexes) {
    out.afterBackfill.push({
      ...step(
        'backfill',
        `index-${i.temp}`,
        `build ${i.unique ? 'unique ' : ''}index ${i.temp} on ${o.shadow}, the future ${i.name}, while reads and writes go on`,
        `CREATE ${i.unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY ${ident(i.temp)} ON ${t} ${i.shape}`,
        'SHARE UPDATE EXCLUSIVE',
        'none',
      ),
      index: {
        action: 'create',
        schema: table.schema,
        name: i.temp,
        table: table.name,
        unique: i.unique,
        columns: i.columns.map((c) => (c === o.finalName ? o.shadow : c)),
        where: i.where,
      },
    });
    out.checks.push({
      id: id('verify', `index-${i.temp}`),
      description: `index ${i.temp} (the future ${i.name}) is valid`,
      sql: indexValidCheckSql({ schema: table.schema, name: i.temp, table, unique: i.unique }),
    });
  }

  for (const c of constraints) {
    const on = qualified(c.table.schema, c.table.name);
    const lock = c.kind === 'check' ? 'ACCESS EXCLUSIVE' : 'SHARE ROW EXCLUSIVE';
    // A foreign key out of the column also locks the table it references.
    const referenced = c.kind === 'foreign key out' && c.partner ? { otherTable: { schema: c.partner.schema, name: c.partner.table } } : {};
    out.afterBackfill.push({
      ...referenced,
      ...step(
        'backfill',
        `add-${c.temp}`,
        `add ${c.kind} ${c.temp} on ${o.shadow} (the future ${c.name}), NOT VALID: no scan`,
        `ALTER TABLE ${on} ADD CONSTRAINT ${ident(c.temp)} ${c.definition} NOT VALID`,
        lock,
        'own',
        c.table,
        constraintExistsSql(c.table, c.temp),
      ),
    });
    if (c.validated) {
      out.afterBackfill.push({
        ...referenced,
        ...step(
          'backfill',
          `validate-${c.temp}`,
          `validate ${c.temp} while reads and writes go on`,
          `ALTER TABLE ${on} VALIDATE CONSTRAINT ${ident(c.temp)}`,
          'SHARE UPDATE EXCLUSIVE',
          'own',
          c.table,
          constraintExistsSql(c.table, c.temp, ' AND convalidated'),
        ),
      });
    }
    out.checks.push({
      id: id('verify', `constraint-${c.temp}`),
      description: `${c.kind} ${c.temp} (the future ${c.name}) exists${c.validated ? ' and is validated' : ''}`,
      sql: `SELECT coalesce(bool_and(convalidated OR NOT ${c.validated}), false) AS ok, CASE WHEN count(*) = 0 THEN ${literal(`${c.temp} does not exist`)} ELSE ${literal(`${c.temp} is not validated`)} END AS detail FROM pg_catalog.pg_constraint WHERE conrelid = pg_catalog.to_regclass(${literal(on)}) AND conname = ${literal(c.temp)}`,
    });
    if (c.kind === 'foreign key in') {
      out.beforeDrop.push(
        step(
          'contract',
          `drop-${c.temp}-old`,
          `drop ${c.name} on ${describeRef(c.table)}: it references ${o.column}`,
          `ALTER TABLE ${on} DROP CONSTRAINT ${ident(c.name)}`,
          'ACCESS EXCLUSIVE',
          'phase',
          c.table,
        ),
      );
      out.rollback.push(
        step(
          'rollback',
          `drop-${c.temp}`,
          `drop ${c.temp} on ${describeRef(c.table)}, which references ${o.shadow}`,
          `ALTER TABLE ${on} DROP CONSTRAINT IF EXISTS ${ident(c.temp)}`,
          'ACCESS EXCLUSIVE',
          'phase',
          c.table,
        ),
      );
    }
  }

  if (facts.ownedSequence) {
    const s = qualified(facts.ownedSequence.schema, facts.ownedSequence.name);
    out.beforeDrop.push(
      step(
        'contract',
        'sequence-owner',
        `hand sequence ${facts.ownedSequence.name} to ${o.shadow}, so dropping ${o.column} keeps it`,
        `ALTER SEQUENCE ${s} OWNED BY ${t}.${ident(o.shadow)}`,
        'ACCESS EXCLUSIVE',
        'phase',
      ),
    );
  }
  if (facts.identity) {
    const old = facts.identity.sequence;
    const tempSeq = `pgshift_${o.hash}_seq`;
    const tempRef = qualified(old.schema, tempSeq);
    out.beforeDrop.push(
      step(
        'contract',
        'identity',
        `make ${o.shadow} the identity column (${facts.identity.always ? 'ALWAYS' : 'BY DEFAULT'}), on a new sequence`,
        `ALTER TABLE ${t} ALTER COLUMN ${ident(o.shadow)} ADD GENERATED ${facts.identity.always ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY (SEQUENCE NAME ${tempRef} ${facts.identity.options})`,
        'ACCESS EXCLUSIVE',
        'phase',
      ),
      step(
        'contract',
        'identity-continue',
        `continue the new sequence where ${old.name} stands`,
        `SELECT pg_catalog.setval(${literal(tempRef)}, s.last_value, s.is_called) FROM ${qualified(old.schema, old.name)} s`,
        'ACCESS EXCLUSIVE',
        'phase',
      ),
    );
    out.afterDrop.push(
      step(
        'contract',
        'identity-name',
        `the new sequence takes the name ${old.name}`,
        `ALTER SEQUENCE ${tempRef} RENAME TO ${ident(old.name)}`,
        'ACCESS EXCLUSIVE',
        'phase',
      ),
    );
  }

  for (const i of indexes) {
    if (i.constraint) {
      const kind = i.constraint.type === 'p' ? 'PRIMARY KEY' : 'UNIQUE';
      const deferral = i.constraint.deferrable ? ` DEFERRABLE INITIALLY ${i.constraint.deferred ? 'DEFERRED' : 'IMMEDIATE'}` : '';
      out.afterDrop.push(
        step(
          'contract',
          `attach-${i.temp}`,
          `${i.temp} becomes ${kind} ${i.name} (USING INDEX: no scan, no build)`,
          `ALTER TABLE ${t} ADD CONSTRAINT ${ident(i.name)} ${kind} USING INDEX ${ident(i.temp)}${deferral}`,
          'ACCESS EXCLUSIVE',
          'phase',
        ),
      );
    } else {
      out.afterDrop.push(
        step(
          'contract',
          `rename-${i.temp}`,
          `${i.temp} takes the name ${i.name}`,
          `ALTER INDEX ${qualified(table.schema, i.temp)} RENAME TO ${ident(i.name)}`,
          'ACCESS EXCLUSIVE',
          'phase',
        ),
      );
    }
    if (i.replicaIdentity)
      out.afterDrop.push(
        step(
          'contract',
          `replica-identity-${i.temp}`,
          `${i.name} is the replica identity again`,
          `ALTER TABLE ${t} REPLICA IDENTITY USING INDEX ${ident(i.name)}`,
          'ACCESS EXCLUSIVE',
          'phase',
        ),
      );
  }
  for (const c of constraints) {
    out.afterDrop.push(
      step(
        'contract',
        `rename-${c.temp}`,
        `${c.temp} takes the name ${c.name}`,
        `ALTER TABLE ${qualified(c.table.schema, c.table.name)} RENAME CONSTRAINT ${ident(c.temp)} TO ${ident(c.name)}`,
        'ACCESS EXCLUSIVE',
        'phase',
        c.table,
      ),
    );
  }
  return out;
}
