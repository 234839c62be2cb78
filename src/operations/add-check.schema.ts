import { z } from 'zod';
import { identifier, required, sqlText, tableFields } from '../plan/fields.js';

export const addCheckSchema = z.strictObject(
  {
    kind: z.literal('addCheck'),
    ...tableFields,
    /** Name of the new constraint. */
    name: identifier,
    /**
     * A boolean SQL expression over the table's columns, written by the plan author and trusted as
     * such: it is inserted verbatim inside parentheses, never rewritten. Inspect checks it against
     * the live table before anything runs.
     */
    check: sqlText,
  },
  { error: required('an object') },
);

export type AddCheck = z.output<typeof addCheckSchema>;
export type AddCheckInput = z.input<typeof addCheckSchema>;
