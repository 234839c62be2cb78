import type { z } from 'zod';
import type { Queryable } from '../db/queryable.js';
import type { PlanProblem } from '../errors.js';
import type { ObjectNames, OperationSteps } from '../plan/steps.js';

export interface Inspection<Facts> {
  facts: Facts | null;
  problems: PlanProblem[];
}

export interface OperationHandler<Op, Facts> {
  describe(op: Op): string;
  /** Columns the operation reads or writes, so migrations touching the same ones run in order. */
  columns(op: Op): { schema: string; table: string; column: string }[];
  /** Reads what the operation needs from the live catalog and lists every reason it cannot run. */
  inspect(db: Queryable, op: Op, path: string): Promise<Inspection<Facts>>;
  /** Pure: renders the steps of every phase from the operation and the facts read at expand. */
  steps(op: Op, facts: Facts, names: ObjectNames, index: number): OperationSteps;
  /** Lists differences between the catalog and what the completed phases should have left. */
  drift(db: Queryable, op: Op, facts: Facts, names: ObjectNames, completed: readonly string[]): Promise<string[]>;
}

/** An operation's plan schema: a strict object whose `kind` is a literal. */
export type OperationSchema = z.ZodObject<{ kind: z.ZodLiteral<string> } & z.ZodRawShape>;

/** What the hooks below and the registry need to know of an operation, whatever its kind. */
export interface OperationHooks<Op> {
  /**
   * For `pgshift stamp`: the field naming the object this operation's expand creates. Its facts
   * never depend on that name (they describe what existed before expand), so when expand was done
   * by hand the operation is inspected with the name replaced by one no object has. An operation
   * whose expand changes nothing its inspect reads, or whose inspect accepts its own expand's
   * result, needs none; one with neither cannot be stamped past expand.
   */
  createdByExpand?: keyof Op & string;
  /**
   * For `pgshift new`: what the operation creates, which must therefore not exist yet (`table`:
   * the table it names; `column`: the column it names). Otherwise both must exist.
   */
  scaffoldCreates?: 'table' | 'column';
  /**
   * For contract: the SQLSTATEs its contract statements raise to refuse (a condition found under
   * the lock, nothing changed), reported as a refusal (exit 3) rather than a failure.
   */
  contractRefusals?: readonly string[];
  /**
   * Expand's steps when later operations of the same migration build on what this one creates:
   * what it creates is committed first, on its own, so that they see it.
   */
  expandFirst?(op: Op, steps: OperationSteps): OperationSteps;
  /**
   * Whether the object named by `createdByExpand` was left by an earlier expand of this same
   * migration that committed it first (expandFirst) and then failed. Inspection then reads the
   * catalog around it, as stamp does, instead of refusing it as already there, so a rerun goes on.
   */
  leftByEarlierExpand?(db: Queryable, op: Op, migrationId: string): Promise<boolean>;
}

/**
 * One operation kind, whole: its plan schema, its builder for TypeScript plans, its handler and
 * its hooks. Each lives in one file under src/operations/ and is listed once in registry.ts.
 */
export interface OperationDefinition<Schema extends OperationSchema, Facts> extends OperationHooks<z.output<Schema>> {
  kind: z.output<Schema['shape']['kind']>;
  schema: Schema;
  handler: OperationHandler<z.output<Schema>, Facts>;
  /** The builder exported by the public API: plain data, validated by the loader like JSON. */
  build(options: Omit<z.input<Schema>, 'kind'>): z.input<Schema>;
}

export function defineOperation<Schema extends OperationSchema, Facts>(
  definition: { schema: Schema; handler: OperationHandler<z.output<Schema>, Facts> } & OperationHooks<z.output<Schema>>,
): OperationDefinition<Schema, Facts> {
  const kind = definition.schema.shape.kind.value as z.output<Schema['shape']['kind']>;
  return { ...definition, kind, build: (options) => ({ kind, ...options }) as z.input<Schema> };
}
