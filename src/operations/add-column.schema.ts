import { z } from 'zod';
import { identifier, required, sqlText, tableFields } from '../plan/fields.js';

export const addColumnSchema = z.strictObject(
  {
    kind: z.literal('addColumn'),
    ...tableFields,
    column: identifier,
    /** A SQL type (`text`, `numeric(12,2)`, `text COLLATE "C"`), tried by inspect. */
    type: sqlText,
    /** SQL expression for the column default (new rows); existing rows get it too. */
    default: sqlText.optional(),
    /** NOT NULL, enforced at contract once verification finds no NULL row. */
    notNull: z.boolean({ error: required('a boolean') }).default(false),
    /**
     * SQL expression over the row's columns computing the value of existing rows, and of rows
     * written without it until contract (the old app does not know the column).
     */
    backfill: sqlText.optional(),
  },
  { error: required('an object') },
);

export type AddColumn = z.output<typeof addColumnSchema>;
export type AddColumnInput = z.input<typeof addColumnSchema>;
