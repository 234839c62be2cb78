import { z } from 'zod';
import { required } from './fields.js';
import { OPERATIONS } from '../operations/registry.js';

type Schemas<T extends readonly unknown[]> = { [I in keyof T]: T[I] extends { schema: infer S } ? S : never };

/** Every operation schema, discriminated on `kind`, from the registry (each lives in its operation's file). */
const OPERATION_SCHEMAS = OPERATIONS.map((o) => o.schema) as unknown as Schemas<typeof OPERATIONS>;
const KNOWN_KINDS = OPERATIONS.map((o) => o.kind).join(', ');

export const operationSchema = z.discriminatedUnion('kind', OPERATION_SCHEMAS, {
  error: (issue) =>
    issue.input === undefined
      ? 'required'
      : typeof issue.input === 'object' && issue.input !== null && 'kind' in issue.input
        ? `unknown operation kind ${JSON.stringify((issue.input as { kind: unknown }).kind)} (known: ${KNOWN_KINDS})`
        : 'expected an operation object with a "kind"',
});

export const MIGRATION_ID_PATTERN = /^[0-9A-Za-z][0-9A-Za-z_.-]{0,199}$/;

export const migrationSchema = z.strictObject(
  {
    id: z.string({ error: required('a string') }).regex(MIGRATION_ID_PATTERN, {
      error: 'must start with a letter or digit and use only letters, digits, "_", "-" and "." (e.g. 20261121_rename_users_email)',
    }),
    description: z.string({ error: required('a string') }).optional(),
    operations: z.array(operationSchema, { error: required('an array') }).min(1, { error: 'must list at least one operation' }),
  },
  { error: required('an object') },
);

export type { RenameColumn, RenameColumnInput } from '../operations/rename-column.js';
export type Operation = z.output<typeof operationSchema>;
export type OperationKind = Operation['kind'];
export type Migration = z.output<typeof migrationSchema>;
export type MigrationInput = z.input<typeof migrationSchema>;

export { PHASES, isPhase, type MigrationState, type Phase } from './phase.js';
