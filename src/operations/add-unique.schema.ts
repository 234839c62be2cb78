import { z } from 'zod';
import { identifier, required, tableFields } from '../plan/fields.js';

export const addUniqueSchema = z.strictObject(
  {
    kind: z.literal('addUnique'),
    ...tableFields,
    /** Name of the constraint, and of the unique index expand builds for it (same schema as the table). */
    name: identifier,
    columns: z.array(identifier, { error: required('an array of column names') }).min(1, { error: 'must list at least one column' }),
  },
  { error: required('an object') },
);

export type AddUnique = z.output<typeof addUniqueSchema>;
export type AddUniqueInput = z.input<typeof addUniqueSchema>;
