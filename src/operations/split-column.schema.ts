import { z } from 'zod';
import { identifier, required, sqlText, tableFields } from '../plan/fields.js';
import { expressionColumns, SqlTextError } from '../sql/parser.js';

const target = z.strictObject(
  {
    name: identifier,
    /** A SQL type (`text`, `varchar(80)`, `int`), tried by inspect. */
    type: sqlText,
    /**
     * SQL expression over the table's existing columns computing this column from the old one
     * (`split_part(full_name, ' ', 1)`). Its result is cast to `type`.
     */
    up: sqlText,
  },
  { error: required('an object') },
);

export const splitColumnSchema = z
  .strictObject(
    {
      kind: z.literal('splitColumn'),
      ...tableFields,
      /** The column being split. */
      column: identifier,
      into: z.array(target, { error: required('an array of columns') }).min(2, { error: 'must list at least two columns' }),
      /**
       * SQL expression over the new columns (and other existing ones, never `column` itself)
       * computing the old column from them (`concat_ws(' ', first_name, last_name)`), for writes
       * of the new app version while the old one still reads `column`. Cast to its type.
       */
      down: sqlText,
      /** Contract drops `column` (default). With false it stays, no longer kept in sync. */
      dropOld: z.boolean({ error: required('true or false') }).default(true),
    },
    { error: required('an object') },
  )
  .superRefine((op, ctx) => {
    const names = op.into.map((c) => c.name);
    names.forEach((name, i) => {
      if (name === op.column) ctx.addIssue({ code: 'custom', path: ['into', i, 'name'], message: `is the column being split` });
      else if (names.indexOf(name) !== i) ctx.addIssue({ code: 'custom', path: ['into', i, 'name'], message: `column ${name} is already listed` });
    });
    // What each expression may name is settled here, by PostgreSQL's parser; whether the names
    // exist in the table is inspect's business.
    const columnsOf = (expression: string, path: (string | number)[]): string[] | null => {
      try {
        return expressionColumns(expression).map((r) => r.name);
      } catch (error) {
        if (!(error instanceof SqlTextError)) throw error;
        ctx.addIssue({ code: 'custom', path, message: error.message });
        return null;
      }
    };
    const added = names.filter((n) => n !== op.column);
    op.into.forEach((c, i) => {
      for (const name of columnsOf(c.up, ['into', i, 'up']) ?? [])
        if (added.includes(name))
          ctx.addIssue({ code: 'custom', path: ['into', i, 'up'], message: `uses ${name}, a new column; "up" computes the new columns from the existing ones` });
    });
    for (const name of columnsOf(op.down, ['down']) ?? [])
      if (name === op.column)
        ctx.addIssue({ code: 'custom', path: ['down'], message: `uses ${name}, the column it computes; "down" reads the new columns (and other existing ones)` });
  });

export type SplitColumn = z.output<typeof splitColumnSchema>;
export type SplitColumnInput = z.input<typeof splitColumnSchema>;
