import { z } from 'zod';
import { identifier, required, sqlText, tableFields } from '../plan/fields.js';

/** Index access methods createIndex accepts; each is built with its default operator classes. */
export const INDEX_METHODS = ['btree', 'hash', 'gin', 'gist', 'brin'] as const;
export type IndexMethod = (typeof INDEX_METHODS)[number];

export const createIndexSchema = z.strictObject(
  {
    kind: z.literal('createIndex'),
    ...tableFields,
    /** The index's own name; it lives in the table's schema. */
    name: identifier,
    columns: z.array(identifier, { error: required('an array of column names') }).min(1, { error: 'must list at least one column' }),
    unique: z.boolean({ error: required('true or false') }).default(false),
    /** Partial index predicate, a boolean SQL expression over the table's columns. */
    where: sqlText.optional(),
    using: z.enum(INDEX_METHODS, { error: required(`one of ${INDEX_METHODS.join(', ')}`) }).default('btree'),
  },
  { error: required('an object') },
);

export type CreateIndex = z.output<typeof createIndexSchema>;
export type CreateIndexInput = z.input<typeof createIndexSchema>;
