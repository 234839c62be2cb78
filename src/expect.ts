import { InvalidArgumentError } from './errors.js';
import { isPhase, type MigrationState } from './plan/model.js';

/** What `advance --expect <migration>@<state>` asserts before anything runs. */
export interface Expectation {
  migration: string;
  /** `pending`, or the last completed phase. */
  state: MigrationState;
}

/** `<migration>@<state>`, or an Expectation; a state that is not `pending` or a phase is invalid input. */
export function parseExpectation(value: string | Expectation): Expectation {
  const { migration, state } =
    typeof value === 'string'
      ? { migration: value.slice(0, Math.max(0, value.lastIndexOf('@'))), state: value.slice(value.lastIndexOf('@') + 1) }
      : value;
  if (!migration || (typeof value === 'string' && !value.includes('@')))
    throw new InvalidArgumentError(`--expect takes <migration>@<state>, got ${JSON.stringify(value)}`);
  if (state !== 'pending' && !isPhase(state))
    throw new InvalidArgumentError(`--expect ${migration}@${state}: the state must be pending, expand, dual-write, backfill or contract`);
  return { migration, state };
}
