import { describe, expect, test } from 'vitest';
import { COMPOSITION, ROLE_OF, compositionProblems, type Role } from '../../src/operations/blocks/composition.js';
import { parseMigration } from '../../src/plan/validate.js';
import { PlanInvalidError } from '../../src/errors.js';
import {
  ADD_COLUMN_THEN_CHECK,
  CREATE_THEN_CONSTRAIN,
  CREATE_THEN_CUSTOM_INDEX,
  STACKED_ON_ONE_COLUMN,
} from '../support/combined-plans.js';
import type { Operation } from '../../src/plan/model.js';

const ROLES = [...new Set(Object.values(ROLE_OF))] as Role[];

describe('the composition table', () => {
  test('answers every ordered pair of roles, and every refusal says what to do instead', () => {
    for (const a of ROLES)
      for (const b of ROLES) {
        const rule = COMPOSITION[a][b];
        expect(rule, `${a} → ${b}`).toBeDefined();
        if (rule.verdict === 'refuse')
          expect(rule.advice('A', 'B', 'column t.c')).toMatch(
            /later migration|first|keep one|leave B out|write the column as it should be/,
          );
      }
  });

  test('a column replaced at contract refuses any rule stacked on it, either order', () => {
    for (const kind of ['renameColumn', 'changeColumnType', 'splitColumn', 'dropColumn'] as const)
      for (const other of ['setNotNull', 'addCheck', 'addForeignKey', 'addUnique', 'createIndex'] as const) {
        expect(COMPOSITION[ROLE_OF[kind]][ROLE_OF[other]].verdict, `${kind} → ${other}`).toBe('refuse');
        expect(COMPOSITION[ROLE_OF[other]][ROLE_OF[kind]].verdict, `${other} → ${kind}`).toBe('refuse');
      }
  });

  test('operations on different columns of one table compose', () => {
    const parsed = parseMigration(
      {
        id: 'x',
        operations: [
          { kind: 'changeColumnType', table: 't', column: 'a', type: 'bigint' },
          { kind: 'setNotNull', table: 't', column: 'b' },
          { kind: 'addCheck', table: 't', name: 'c', check: 'b > 0' },
        ],
      },
      'test',
    );
    expect(compositionProblems(parsed.operations)).toEqual([]);
  });

  test('the stacked plan of issue 8 is refused at validation, at each stacked operation', () => {
    let error: unknown;
    try {
      parseMigration(STACKED_ON_ONE_COLUMN, 'test');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PlanInvalidError);
    expect((error as PlanInvalidError).problems.map((p) => p.path)).toEqual(['operations[1]', 'operations[2]', 'operations[3]']);
  });

  test('an addCheck whose expression names the new column of an addColumn is refused', () => {
    expect(() => parseMigration(ADD_COLUMN_THEN_CHECK, 'test')).toThrow(/adds in this migration/);
  });

  test('createTable followed by operations on it passes validation', () => {
    for (const plan of [CREATE_THEN_CONSTRAIN, CREATE_THEN_CUSTOM_INDEX])
      expect(parseMigration(plan, 'test').operations.length).toBe(plan.operations.length);
  });

  test('an operation on a table before its createTable is refused: createTable first', () => {
    const [create, unique] = parseMigration(CREATE_THEN_CONSTRAIN, 'test').operations;
    expect(compositionProblems([unique, create] as Operation[]).map((p) => p.message)).toEqual([
      'operations[1] (createTable) creates table customers, on which operations[0] (addUnique) already acts; put operations[1] (createTable) first',
    ]);
  });
});
