import { z } from 'zod';
import { identifier, required, sqlText, tableFields } from '../plan/fields.js';

export const changeColumnTypeSchema = z.strictObject(
  {
    kind: z.literal('changeColumnType'),
    ...tableFields,
    column: identifier,
    /** The new type, as in ALTER COLUMN ... TYPE (e.g. `bigint`, `numeric(12,2)`, `text COLLATE "C"`). */
    type: sqlText,
    /**
     * The new value from the old row, as in ALTER COLUMN ... USING: an expression naming the
     * table's columns unqualified (`column` is the old value). Default: `column::type`.
     */
    using: sqlText.optional(),
    /**
     * The old value from the new one, for writes of the new app version: an expression where
     * `column` names the NEW value (other columns as they are). Default: `column::old type`.
     */
    reverse: sqlText.optional(),
    /** The new column's name until contract, for the new app version to write. Default `<column>_new`. */
    shadow: identifier.optional(),
  },
  { error: required('an object') },
);

export type ChangeColumnType = z.output<typeof changeColumnTypeSchema>;
export type ChangeColumnTypeInput = z.input<typeof changeColumnTypeSchema>;
