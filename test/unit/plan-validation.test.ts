import { describe, expect, test } from 'vitest';
import { PlanInvalidError } from '../../src/errors.js';
import { checksumOf } from '../../src/plan/checksum.js';
import { defineMigration, renameColumn } from '../../src/plan/define.js';
import { parseMigration } from '../../src/plan/validate.js';
import type { RenameColumn } from '../../src/plan/model.js';

function problems(input: unknown): string[] {
  try {
    parseMigration(input, 'test');
  } catch (error) {
    if (error instanceof PlanInvalidError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  return [];
}

describe('plan validation', () => {
  test('accepts exactly the documented JSON shape and fills in the schema', () => {
    const m = parseMigration(
      { id: '20261121_rename_users_email', operations: [{ kind: 'renameColumn', table: 'users', from: 'email', to: 'email_address' }] },
      'x',
    );
    expect(m).toEqual({
      id: '20261121_rename_users_email',
      operations: [{ kind: 'renameColumn', schema: 'public', table: 'users', from: 'email', to: 'email_address' }],
    });
  });

  test('reports every problem at once, with paths', () => {
    expect(problems({ operations: [{ kind: 'renameColumn', table: '', from: 'a', extra: 1 }], other: 2 })).toEqual([
      'id: required',
      'operations[0].table: must not be empty',
      'operations[0].to: required',
      'operations[0].extra: unknown key',
      'other: unknown key',
    ]);
  });

  test('rejects unknown kinds, empty operation lists, bad ids, long names and duplicate renames', () => {
    expect(problems({ id: 'a', operations: [] })).toEqual(['operations: must list at least one operation']);
    expect(problems({ id: 'a', operations: [{ kind: 'explode' }] })).toEqual([
      expect.stringMatching(/^operations\[0\]\.kind: unknown operation kind "explode" \(known: renameColumn, dropColumn/),
    ]);
    expect(problems({ id: '../etc', operations: [{ kind: 'renameColumn', table: 't', from: 'a', to: 'b' }] })[0]).toMatch(
      /^id: must start/,
    );
    expect(problems({ id: 'a', operations: [{ kind: 'renameColumn', table: 't', from: 'a', to: 'é'.repeat(32) }] })).toEqual([
      'operations[0].to: longer than 63 bytes (PostgreSQL would truncate it)',
    ]);
    expect(
      problems({
        id: 'a',
        operations: [
          { kind: 'renameColumn', table: 't', from: 'a', to: 'b' },
          { kind: 'renameColumn', table: 't', from: 'c', to: 'b' },
          { kind: 'renameColumn', table: 't', from: 'd', to: 'd' },
        ],
      }),
    ).toEqual(['operations[1].to: column b is already renamed by operations[0]', 'operations[2].to: is the same as "from"']);
    expect(problems('nope')).toEqual([': expected an object']);
  });

  test('the TypeScript helpers produce the same plan and checksum as JSON', () => {
    const ts = parseMigration(
      defineMigration({ id: 'm1', description: 'x', operations: [renameColumn({ table: 'users', from: 'email', to: 'mail' })] }),
      'ts',
    );
    const json = parseMigration(
      { operations: [{ to: 'mail', from: 'email', table: 'users', schema: 'public', kind: 'renameColumn' }], id: 'm1' },
      'json',
    );
    expect(checksumOf(ts)).toBe(checksumOf(json));
    const renamed = json.operations[0] as RenameColumn;
    expect(checksumOf(json)).not.toBe(checksumOf({ ...json, operations: [{ ...renamed, to: 'other' }] }));
  });
});
