import { z } from 'zod';
import { required, tableFields } from '../plan/fields.js';

export const dropTableSchema = z.strictObject(
  {
    kind: z.literal('dropTable'),
    ...tableFields,
  },
  { error: required('an object') },
);

export type DropTable = z.output<typeof dropTableSchema>;
export type DropTableInput = z.input<typeof dropTableSchema>;
