import { describe, expect, test } from 'vitest';
import { expressionColumns, rewriteColumns } from '../../src/sql/parser.js';
import { ident } from '../../src/sql/ident.js';

describe('expressions, read by PostgreSQL’s parser', () => {
  test('lists the columns an expression names, quoted or not, with their byte ranges', () => {
    const refs = expressionColumns(`split_part("Full Name", ' ', 1) || x::text`);
    expect(refs).toEqual([
      { name: 'Full Name', start: 11, end: 22 },
      { name: 'x', start: 35, end: 36 },
    ]);
  });

  test('rewrites column references only, leaving string literals and multi-byte text intact', () => {
    const out = rewriteColumns(`split_part("Fül Name", ' ', 1) || x::text || 'x é' || "a""b"`, (c) => `NEW.${ident(c)}`);
    expect(out).toBe(`split_part(NEW."Fül Name", ' ', 1) || NEW."x"::text || 'x é' || NEW."a""b"`);
    expect(rewriteColumns('price * 100', (c) => (c === 'price' ? 'NEW.cents' : null))).toBe('NEW.cents * 100');
  });

  test.each([
    ['1; DROP TABLE x', 'must be a single SQL expression'],
    ['a FROM t', 'no FROM'],
    ['a AS b', 'without an alias'],
    ['(SELECT 1)', 'subqueries are not supported'],
    ['t.a', 'refer to columns unqualified (found t.a)'],
    ['1, 2', 'no FROM, WHERE, or list'],
    ['a +', 'syntax error at end of input (at character 4)'],
  ])('refuses %j', (expression, message) => {
    expect(() => expressionColumns(expression)).toThrow(message);
  });
});
