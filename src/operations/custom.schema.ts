import { z } from 'zod';
import { RULE_IDS } from '../sql/lint.js';
import { identifier, required, sqlText } from '../plan/fields.js';

/** Raw SQL: one string (one or more statements) or a list of them. */
const statements = z.union([sqlText, z.array(sqlText).min(1, { error: 'must list at least one string of SQL' })], {
  error: required('a string of SQL or a list of them'),
});

/** `{ column: expression }`, at least one. */
const assignments = z
  .record(identifier, sqlText, { error: required('an object of column: SQL expression') })
  .refine((r) => Object.keys(r).length > 0, { error: 'must assign at least one column' });

export const customAllowSchema = z.strictObject(
  {
    /** The statement's label from the refusal (`expand #2`), or a piece of its text found in exactly one statement. */
    statement: z.string({ error: required('a string') }).min(1, { error: 'must not be empty' }),
    rule: z.enum(RULE_IDS, { error: (issue) => (issue.input === undefined ? 'required' : `unknown rule (known: ${RULE_IDS.join(', ')})`) }),
    /** Why it is safe here; recorded in the ledger with the run. */
    reason: z
      .string({ error: required('a string') })
      .refine((s) => s.trim().length > 0, { error: 'must say why the statement is safe here' }),
  },
  { error: required('an object') },
);

export const customSchema = z
  .strictObject(
    {
      kind: z.literal('custom'),
      /** What the operation does, for `plan` and `status`. */
      description: z.string({ error: required('a string') }).optional(),
      /** The table of the trigger, the backfill and the verification. */
      schema: identifier.default('public'),
      table: identifier.optional(),
      expand: statements.optional(),
      dualWrite: z
        .strictObject(
          {
            sql: statements.optional(),
            /**
             * A row trigger keeping both shapes in sync: `up` computes new columns from the old ones
             * (for the old app's writes), `down` old columns from the new ones (for the new app's).
             */
            trigger: z
              .strictObject({ up: assignments, down: assignments.optional() }, { error: required('an object') })
              .optional(),
          },
          { error: required('an object') },
        )
        .optional(),
      backfill: z
        .strictObject(
          {
            /** Keyset batches of `UPDATE table SET column = (expression), …`. */
            set: assignments.optional(),
            /** Boolean SQL: the row still needs the backfill (default: a set column differs from its expression). */
            pending: sqlText.optional(),
            /** DDL run at the end of the backfill phase (e.g. an index on the filled column). */
            after: statements.optional(),
          },
          { error: required('an object') },
        )
        .optional(),
      /** Boolean SQL over a row: true for a row that is wrong (default: the backfill's pending predicate). */
      verify: sqlText.optional(),
      contract: statements.optional(),
      /** Undoes expand, dual-write and backfill from wherever they stopped: re-runnable (IF EXISTS). */
      rollback: z.union([sqlText, z.array(sqlText)], { error: required('a string of SQL or a list of them ([] for nothing to undo)') }).optional(),
      /** Lint refusals set aside, one statement and rule each, with the reason. */
      allow: z.array(customAllowSchema, { error: required('an array') }).default([]),
    },
    { error: required('an object') },
  )
  .superRefine((op, ctx) => {
    const needsTable = [op.dualWrite?.trigger && 'dualWrite.trigger', op.backfill?.set && 'backfill.set', op.verify !== undefined && 'verify'].filter(Boolean);
    if (op.table === undefined && needsTable.length) ctx.addIssue({ code: 'custom', path: ['table'], message: `required with ${needsTable.join(', ')}` });
    if (op.backfill && !op.backfill.set && op.backfill.pending !== undefined) ctx.addIssue({ code: 'custom', path: ['backfill', 'pending'], message: 'needs backfill.set' });
    const changes = [op.expand !== undefined && 'expand', op.dualWrite?.sql !== undefined && 'dualWrite.sql', op.backfill?.after !== undefined && 'backfill.after'].filter(Boolean);
    if (changes.length && op.rollback === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['rollback'],
        message: `required because ${changes.join(', ')} change the database: give SQL that undoes them from any phase (re-runnable, e.g. DROP … IF EXISTS), or [] if nothing needs undoing`,
      });
    const anything = op.expand ?? op.dualWrite ?? op.backfill ?? op.verify ?? op.contract;
    if (anything === undefined) ctx.addIssue({ code: 'custom', path: [], message: 'does nothing: give expand, dualWrite, backfill, verify or contract' });
  });

export type Custom = z.output<typeof customSchema>;
export type CustomInput = z.input<typeof customSchema>;
export type CustomAllow = z.output<typeof customAllowSchema>;
