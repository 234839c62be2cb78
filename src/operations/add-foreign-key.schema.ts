import { z } from 'zod';
import { identifier, required, tableFields } from '../plan/fields.js';

/** PostgreSQL's INDEX_MAX_KEYS: a key has at most 32 columns. */
const MAX_KEY_COLUMNS = 32;

const columnList = z
  .array(identifier, { error: required('an array of column names') })
  .min(1, { error: 'must list at least one column' })
  .max(MAX_KEY_COLUMNS, { error: `a key has at most ${MAX_KEY_COLUMNS} columns` })
  .superRefine((columns, ctx) => {
    columns.forEach((c, i) => {
      if (columns.indexOf(c) !== i) ctx.addIssue({ code: 'custom', path: [i], message: `column ${c} is already listed` });
    });
  });

export const REFERENTIAL_ACTIONS = ['no action', 'restrict', 'cascade', 'set null', 'set default'] as const;
const referentialAction = z.enum(REFERENTIAL_ACTIONS, {
  error: required(`one of ${REFERENTIAL_ACTIONS.map((a) => `"${a}"`).join(', ')}`),
});

export const addForeignKeySchema = z
  .strictObject(
    {
      kind: z.literal('addForeignKey'),
      ...tableFields,
      /** Name of the new constraint. */
      name: identifier,
      columns: columnList,
      references: z.strictObject(
        {
          /** Default: the schema of the referencing table. */
          schema: identifier.optional(),
          table: identifier,
          columns: columnList,
        },
        { error: required('an object') },
      ),
      onDelete: referentialAction.optional(),
      onUpdate: referentialAction.optional(),
    },
    { error: required('an object') },
  )
  .superRefine((op, ctx) => {
    if (op.columns.length !== op.references.columns.length)
      ctx.addIssue({
        code: 'custom',
        path: ['references', 'columns'],
        message: `lists ${op.references.columns.length} column(s) for ${op.columns.length} in "columns"; they pair up one to one`,
      });
  });

export type AddForeignKey = z.output<typeof addForeignKeySchema>;
export type AddForeignKeyInput = z.input<typeof addForeignKeySchema>;
