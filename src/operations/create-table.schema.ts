import { z } from 'zod';
import { identifier, required, sqlText, tableFields } from '../plan/fields.js';

const columnDef = z.strictObject(
  {
    name: identifier,
    /** A PostgreSQL type as written in CREATE TABLE (`bigint`, `text`, `numeric(10,2)`, `timestamptz`). */
    type: sqlText,
    notNull: z.boolean({ error: required('true or false') }).default(false),
    /** A default expression, used as written. */
    default: sqlText.optional(),
    /** This column alone is the primary key (use the table's `primaryKey` for several). */
    primaryKey: z.boolean({ error: required('true or false') }).default(false),
  },
  { error: required('an object') },
);

export const createTableSchema = z
  .strictObject(
    {
      kind: z.literal('createTable'),
      ...tableFields,
      columns: z.array(columnDef, { error: required('an array of columns') }).min(1, { error: 'must list at least one column' }),
      /** The primary key's columns, when it has several (or instead of a column's `primaryKey`). */
      primaryKey: z.array(identifier, { error: required('an array of column names') }).min(1, { error: 'must list at least one column' }).optional(),
    },
    { error: required('an object') },
  )
  .superRefine((op, ctx) => {
    const names = op.columns.map((c) => c.name);
    names.forEach((name, i) => {
      if (names.indexOf(name) !== i) ctx.addIssue({ code: 'custom', path: ['columns', i, 'name'], message: `column ${name} is already listed` });
    });
    const marked = op.columns.flatMap((c, i) => (c.primaryKey ? [i] : []));
    marked.slice(1).forEach((i) =>
      ctx.addIssue({ code: 'custom', path: ['columns', i, 'primaryKey'], message: 'only one column may be marked; list several in the table\'s "primaryKey"' }),
    );
    if (op.primaryKey && marked.length)
      ctx.addIssue({ code: 'custom', path: ['primaryKey'], message: `columns[${marked[0]}] is already marked primaryKey; use one or the other` });
    op.primaryKey?.forEach((name, i) => {
      if (!names.includes(name)) ctx.addIssue({ code: 'custom', path: ['primaryKey', i], message: `column ${name} is not among "columns"` });
      else if (op.primaryKey!.indexOf(name) !== i) ctx.addIssue({ code: 'custom', path: ['primaryKey', i], message: `column ${name} is already listed` });
    });
  });

export type CreateTable = z.output<typeof createTableSchema>;
export type CreateTableInput = z.input<typeof createTableSchema>;
