import { z } from 'zod';
import { identifier, required, tableFields } from './fields.js';
import { dropColumnSchema } from '../operations/drop-column.schema.js';
import { createIndexSchema } from '../operations/create-index.schema.js';
import { dropIndexSchema } from '../operations/drop-index.schema.js';
import { addCheckSchema } from '../operations/add-check.schema.js';
import { addForeignKeySchema } from '../operations/add-foreign-key.schema.js';
import { setNotNullSchema } from '../operations/set-not-null.schema.js';
import { addColumnSchema } from '../operations/add-column.schema.js';
import { addUniqueSchema } from '../operations/add-unique.schema.js';
import { createTableSchema } from '../operations/create-table.schema.js';
import { customSchema } from '../operations/custom.schema.js';
import { changeColumnTypeSchema } from '../operations/change-column-type.schema.js';
import { splitColumnSchema } from '../operations/split-column.schema.js';
import { dropTableSchema } from '../operations/drop-table.schema.js';

export const renameColumnSchema = z.strictObject(
  {
    kind: z.literal('renameColumn'),
    ...tableFields,
    from: identifier,
    to: identifier,
  },
  { error: required('an object') },
);

/** Every operation schema, discriminated on `kind`. Each operation's lives beside it in src/operations/. */
const OPERATION_SCHEMAS = [renameColumnSchema, dropColumnSchema, createIndexSchema, dropIndexSchema, addCheckSchema, addForeignKeySchema, setNotNullSchema, addColumnSchema, addUniqueSchema, createTableSchema, customSchema, changeColumnTypeSchema, splitColumnSchema, dropTableSchema] as const;
const KNOWN_KINDS = OPERATION_SCHEMAS.map((s) => s.shape.kind.value).join(', ');

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
    id: z
      .string({ error: required('a string') })
      .regex(MIGRATION_ID_PATTERN, {
        error: 'must start with a letter or digit and use only letters, digits, "_", "-" and "." (e.g. 20261121_rename_users_email)',
      }),
    description: z.string({ error: required('a string') }).optional(),
    operations: z.array(operationSchema, { error: required('an array') }).min(1, { error: 'must list at least one operation' }),
  },
  { error: required('an object') },
);

export type RenameColumn = z.output<typeof renameColumnSchema>;
export type RenameColumnInput = z.input<typeof renameColumnSchema>;
export type Operation = z.output<typeof operationSchema>;
export type OperationKind = Operation['kind'];
export type Migration = z.output<typeof migrationSchema>;
export type MigrationInput = z.input<typeof migrationSchema>;

/** The four phases, in order. Verification is a gate inside contract, not a phase of its own. */
export const PHASES = ['expand', 'dual-write', 'backfill', 'contract'] as const;
export type Phase = (typeof PHASES)[number];
/** A migration's state in the ledger: its last completed phase, or pending (no row). */
export type MigrationState = Phase | 'pending';

export function isPhase(value: string): value is Phase {
  return (PHASES as readonly string[]).includes(value);
}
