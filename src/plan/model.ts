import { z } from 'zod';
import { MAX_IDENTIFIER_BYTES } from '../sql/ident.js';

function required(what: string) {
  return (issue: { input?: unknown }) => (issue.input === undefined ? 'required' : `expected ${what}`);
}

/** A PostgreSQL identifier as the user means it (unquoted form; we quote when rendering). */
const identifier = z
  .string({ error: required('a string') })
  .min(1, { error: 'must not be empty' })
  .refine((s) => Buffer.byteLength(s, 'utf8') <= MAX_IDENTIFIER_BYTES, {
    error: `longer than ${MAX_IDENTIFIER_BYTES} bytes (PostgreSQL would truncate it)`,
  })
  .refine((s) => !s.includes('\0'), { error: 'contains a NUL character' });

export const renameColumnSchema = z.strictObject(
  {
    kind: z.literal('renameColumn'),
    schema: identifier.default('public'),
    table: identifier,
    from: identifier,
    to: identifier,
  },
  { error: required('an object') },
);

/** Exhaustive list of operation schemas, discriminated on `kind`. */
export const operationSchema = z.discriminatedUnion('kind', [renameColumnSchema], {
  error: (issue) =>
    issue.input === undefined
      ? 'required'
      : typeof issue.input === 'object' && issue.input !== null && 'kind' in issue.input
        ? `unknown operation kind ${JSON.stringify((issue.input as { kind: unknown }).kind)} (known: renameColumn)`
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

export function isPhase(value: string): value is Phase {
  return (PHASES as readonly string[]).includes(value);
}
