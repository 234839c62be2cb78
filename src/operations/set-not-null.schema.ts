import { z } from 'zod';
import { identifier, required, sqlText, tableFields } from '../plan/fields.js';

export const setNotNullSchema = z.strictObject(
  {
    kind: z.literal('setNotNull'),
    ...tableFields,
    column: identifier,
    /**
     * A SQL expression (trusted, inserted verbatim inside parentheses) for the value of a NULL in
     * `column`: existing rows get it from the backfill, rows the old app writes with NULL get it
     * from the dual-write trigger. It cannot read the row's columns. Required when the column holds NULLs.
     */
    fill: sqlText.optional(),
  },
  { error: required('an object') },
);

export type SetNotNull = z.output<typeof setNotNullSchema>;
export type SetNotNullInput = z.input<typeof setNotNullSchema>;
