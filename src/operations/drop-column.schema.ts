import { z } from 'zod';
import { identifier, required, tableFields } from '../plan/fields.js';

export const dropColumnSchema = z.strictObject(
  {
    kind: z.literal('dropColumn'),
    ...tableFields,
    column: identifier,
  },
  { error: required('an object') },
);

export type DropColumn = z.output<typeof dropColumnSchema>;
export type DropColumnInput = z.input<typeof dropColumnSchema>;
