import { z } from 'zod';
import { identifier, required } from '../plan/fields.js';
import { findRelation, indexConstraints, type IndexConstraint } from '../catalog/indexes.js';
import { describeRef, relkindName } from '../catalog/introspect.js';
import { dropIndexSql } from '../db/concurrent-index.js';
import type { Queryable } from '../db/queryable.js';
import type { PlanProblem } from '../errors.js';
import { ident, qualified } from '../sql/ident.js';
import { indexNameClaim } from './blocks/index-names.js';
import type { IndexStep, ObjectNames, OperationSteps } from '../plan/steps.js';
import type { OperationHandler } from './operation.js';
import { defineOperation } from './operation.js';

export const dropIndexSchema = z.strictObject(
  {
    kind: z.literal('dropIndex'),
    schema: identifier.default('public'),
    name: identifier,
  },
  { error: required('an object') },
);

export type DropIndex = z.output<typeof dropIndexSchema>;
export type DropIndexInput = z.input<typeof dropIndexSchema>;

/** The index dropIndex will drop, as it was when inspected (its definition recreates it). */
export interface DropIndexFacts {
  /** Its table, in the index's schema. */
  table: string;
  unique: boolean;
  /** Key columns; an expression is `(expression)`. */
  columns: string[];
  /** pg_get_indexdef(). */
  definition: string;
  /** The definition after `ON <table>` (method, columns, options, predicate), to rebuild it. */
  shape: string;
  /** Partial index predicate, or null. */
  predicate: string | null;
}

const CONSTRAINT_KINDS: Record<string, string> = { p: 'primary key', u: 'unique', x: 'exclusion' };

function describeIndex(op: DropIndex): string {
  return describeRef({ schema: op.schema, name: op.name });
}

/** Why the index cannot simply be dropped: PostgreSQL would refuse, or something would silently break. */
function constraintProblem(op: DropIndex, c: IndexConstraint): string {
  const kind = CONSTRAINT_KINDS[c.type];
  if (kind)
    return `index ${describeIndex(op)} backs the ${kind} constraint ${c.name} of ${describeRef(c.table)}; dropping a constraint is a different operation (ALTER TABLE ... DROP CONSTRAINT), not dropIndex`;
  return `index ${describeIndex(op)} is needed by the foreign key ${c.name} of ${describeRef(c.table)}, which references through it`;
}

function indexStep(op: DropIndex, facts: DropIndexFacts, action: IndexStep['action']): IndexStep {
  // Duplicate keys can be sampled only over plain columns.
  const plain = facts.columns.every((c) => c !== '(expression)');
  return {
    action,
    schema: op.schema,
    name: op.name,
    table: facts.table,
    unique: facts.unique,
    columns: plain ? facts.columns : [],
    where: facts.predicate,
  };
}

function steps(op: DropIndex, facts: DropIndexFacts, _names: ObjectNames, index: number): OperationSteps {
  const table = { schema: op.schema, name: facts.table };
  const id = (phase: string, what: string) => `${index}.${phase}.${what}`;
  return {
    expand: [],
    dualWrite: [],
    backfill: [],
    afterBackfill: [],
    verify: [],
    checks: [],
    contract: [
      {
        id: id('contract', 'drop-index'),
        description: `drop index ${op.name} of ${describeRef(table)} while reads and writes go on`,
        sql: dropIndexSql(op),
        lock: 'SHARE UPDATE EXCLUSIVE',
        table,
        tx: 'none',
        index: indexStep(op, facts, 'drop'),
      },
    ],
    rollback: [
      {
        id: id('rollback', 'restore-index'),
        description:
          `nothing to undo while index ${op.name} is valid (skipped); only if a contract that stopped half-way left it ` +
          `INVALID or dropped it, build it again as it was: ${facts.definition}`,
        sql: `CREATE ${facts.unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY ${ident(op.name)} ON ${qualified(op.schema, facts.table)} ${facts.shape}`,
        lock: 'SHARE UPDATE EXCLUSIVE',
        table,
        tx: 'none',
        index: indexStep(op, facts, 'create'),
      },
    ],
    triggers: [],
  };
}

async function inspect(db: Queryable, op: DropIndex, path: string) {
  const problems: PlanProblem[] = [];
  const name = describeIndex(op);
  const rel = await findRelation(db, op.schema, op.name);
  if (!rel) return { facts: null, problems: [{ path: `${path}.name`, message: `index ${name} does not exist` }] };
  const info = rel.index;
  if (!info)
    return { facts: null, problems: [{ path: `${path}.name`, message: `${name} is a ${relkindName(rel.relkind)}, not an index` }] };
  if (rel.relkind === 'I')
    problems.push({ path: `${path}.name`, message: `${name} is a partitioned index; DROP INDEX CONCURRENTLY cannot drop it` });
  if (info.parent)
    problems.push({
      path: `${path}.name`,
      message: `index ${name} is a partition of index ${info.parent}; it can only be dropped with its parent`,
    });
  for (const c of await indexConstraints(db, rel.oid)) problems.push({ path: `${path}.name`, message: constraintProblem(op, c) });
  if (info.replicaIdentity)
    problems.push({
      path: `${path}.name`,
      message: `index ${name} is the replica identity of ${describeRef(info.table)}; set another one first (ALTER TABLE ... REPLICA IDENTITY), or logical replication of its updates and deletes stops`,
    });
  if (!problems.length && info.shape === null)
    problems.push({
      path: `${path}.name`,
      message: `cannot read the definition of index ${name} to restore it on rollback: ${info.definition}`,
    });
  if (problems.length || info.shape === null) return { facts: null, problems };
  return {
    facts: {
      table: info.table.name,
      unique: info.unique,
      columns: info.columns,
      definition: info.definition,
      shape: info.shape,
      predicate: info.predicate,
    },
    problems,
  };
}

/**
 * Before contract the index should still be there; but a missing or INVALID one is not drift: a
 * contract that stopped after (or during) its DROP INDEX CONCURRENTLY leaves it so, and the next
 * contract finishes the drop. What would make that drop fail is reported: a constraint that now
 * needs the index.
 */
async function drift(db: Queryable, op: DropIndex, _facts: DropIndexFacts, _names: ObjectNames, completed: readonly string[]) {
  if (completed.includes('contract')) return [];
  const rel = await findRelation(db, op.schema, op.name);
  if (!rel?.index) return [];
  return (await indexConstraints(db, rel.oid)).map((c) => constraintProblem(op, c));
}

export const dropIndexHandler: OperationHandler<DropIndex, DropIndexFacts> = {
  describe: (op) => `drop index ${describeIndex(op)}`,
  // The table is known only from the catalog; the name orders it against a createIndex of the same name.
  columns: (op) => [indexNameClaim(op.schema, op.name)],
  inspect,
  steps,
  drift,
};

export const dropIndexOperation = defineOperation({ schema: dropIndexSchema, handler: dropIndexHandler });
