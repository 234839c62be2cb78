import type { Operation, OperationKind } from '../plan/model.js';
import type { OperationSteps } from '../plan/steps.js';
import type { PlanProblem } from '../errors.js';
import { objectNames } from './blocks/names.js';
import type { CarryOverFacts } from './blocks/carry-over.js';
import type { OperationHandler } from './operation.js';
import { OPERATIONS } from './registry.js';

type Definition = (typeof OPERATIONS)[number];

export type OperationHandlers = { [D in Definition as D['kind']]: D['handler'] };

/** Each kind's handler, from the registry (a kind's handler is part of its definition). */
export const operationHandlers = Object.fromEntries(OPERATIONS.map((o) => [o.kind, o.handler])) as OperationHandlers;

const DEFINITIONS = new Map<string, Definition>(OPERATIONS.map((o) => [o.kind, o]));

/** The definition of an operation's kind: its handler and its hooks for stamp, scaffold and contract. */
export function definitionOf(kind: OperationKind): Definition {
  return DEFINITIONS.get(kind)!;
}

export function handlerFor(op: Operation): OperationHandler<Operation, unknown> {
  return operationHandlers[op.kind] as unknown as OperationHandler<Operation, unknown>;
}

export function stepsFor(migrationId: string, op: Operation, index: number, facts: unknown): OperationSteps {
  return handlerFor(op).steps(op, facts, objectNames(migrationId, index), index);
}

/** The SQLSTATEs with which some operation's contract statements refuse (nothing changed): a refusal, not a failure. */
export const CONTRACT_REFUSALS: ReadonlySet<string> = new Set(
  OPERATIONS.flatMap((o) => ('contractRefusals' in o ? (o.contractRefusals ?? []) : [])),
);

/**
 * Problems no single operation can see: a carried-over foreign key whose other side another
 * operation of the same migration changes (a key and a column referencing it, retyped together).
 * The carried key would be rebuilt against the other side's old column, which that operation's
 * contract drops. Two migrations, the referenced side first, do it.
 */
export function crossOperationProblems(operations: readonly Operation[], facts: readonly unknown[]): PlanProblem[] {
  const problems: PlanProblem[] = [];
  const touched = operations.map(
    (op) =>
      new Set(
        handlerFor(op)
          .columns(op)
          .map((c) => `${c.schema}.${c.table}.${c.column}`),
      ),
  );
  facts.forEach((f, i) => {
    const carry = (f as { carry?: CarryOverFacts } | null)?.carry;
    for (const c of carry?.constraints ?? []) {
      if (!c.partner) continue;
      const { schema, table, columns } = c.partner;
      touched.forEach((set, j) => {
        if (j === i || !columns.some((col) => set.has(`${schema}.${table}.${col}`))) return;
        problems.push({
          path: `operations[${i}]`,
          message: `foreign key ${c.name} links this column to ${schema}.${table} (${columns.join(', ')}), which operations[${j}] changes too; run them as two migrations, the referenced side first`,
        });
      });
    }
  });
  return problems;
}
