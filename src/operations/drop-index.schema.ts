import { z } from 'zod';
import { identifier, required } from '../plan/fields.js';

export const dropIndexSchema = z.strictObject(
  {
    kind: z.literal('dropIndex'),
    schema: identifier.default('public'),
    name: identifier,
  },
  { error: required('an object') },
);

export type DropIndex = z.output<typeof dropIndexSchema>;
export type DropIndexInput = z.input<typeof dropIndexSchema>;
