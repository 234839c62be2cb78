import { describe, expect, test } from 'vitest';
import { backoffMs, DEFAULT_LOCK_POLICY } from '../../src/db/lock-retry.js';
import { dollarQuote, ident, literal, qualified } from '../../src/sql/ident.js';
import {
  renderBatchUpdate,
  renderBoundary,
  renderKeySample,
  renderLastKey,
  renderMismatchKeys,
  renderVerifyCount,
} from '../../src/sql/keyset.js';

describe('quoting', () => {
  test('identifiers are always quoted, quotes doubled', () => {
    expect(ident('users')).toBe('"users"');
    expect(ident('Weird"Quote')).toBe('"Weird""Quote"');
    expect(qualified('Odd Schema', 'Order Items')).toBe('"Odd Schema"."Order Items"');
    expect(() => ident('')).toThrow('empty SQL identifier');
    expect(() => ident('a\0b')).toThrow('NUL');
  });

  test('literals escape quotes and backslashes', () => {
    expect(literal("it's")).toBe("'it''s'");
    expect(literal('a\\b')).toBe("E'a\\\\b'");
  });

  test('dollar quotes pick a tag absent from the body', () => {
    expect(dollarQuote('x')).toBe('$pgshift$x$pgshift$');
    expect(dollarQuote('a $pgshift$ b $pgshift1$')).toBe('$pgshift2$a $pgshift$ b $pgshift1$$pgshift2$');
  });
});

describe('keyset SQL over a composite key', () => {
  const q = {
    table: { schema: 'public', name: 'pairs' },
    key: [
      { name: 'Region', type: 'text' },
      { name: 'seq', type: 'integer' },
    ],
  };
  test('boundary, batch and verification chunk use a row comparison in key order', () => {
    expect(renderBoundary(q, { cursor: true, end: false })).toBe(
      'SELECT "Region"::text AS k0, "seq"::text AS k1 FROM "public"."pairs" WHERE ("Region", "seq") > ($1::text, $2::integer) ORDER BY "Region", "seq" LIMIT 1 OFFSET $3',
    );
    expect(renderBoundary(q, { cursor: false, end: false })).toBe(
      'SELECT "Region"::text AS k0, "seq"::text AS k1 FROM "public"."pairs" WHERE true ORDER BY "Region", "seq" LIMIT 1 OFFSET $1',
    );
    expect(renderBatchUpdate({ ...q, set: [{ column: 'b', expression: '"a"' }], pending: '"b" IS DISTINCT FROM "a"' }, false)).toBe(
      'UPDATE "public"."pairs" SET "b" = "a" WHERE ("Region", "seq") <= ($1::text, $2::integer) AND ("b" IS DISTINCT FROM "a")',
    );
    expect(renderVerifyCount({ ...q, mismatch: '"b" IS DISTINCT FROM "a"' }, true)).toBe(
      'SELECT count(*)::int AS rows, count(*) FILTER (WHERE "b" IS DISTINCT FROM "a")::int AS mismatches FROM "public"."pairs" ' +
        'WHERE ("Region", "seq") > ($1::text, $2::integer) AND ("Region", "seq") <= ($3::text, $4::integer)',
    );
    expect(renderMismatchKeys({ ...q, mismatch: 'x' }, false)).toBe(
      'SELECT "Region"::text AS k0, "seq"::text AS k1 FROM "public"."pairs" WHERE ("Region", "seq") <= ($1::text, $2::integer) AND (x) ORDER BY "Region", "seq" LIMIT $3',
    );
  });

  test('a worker range bounds every statement: cursor params first, then the range end', () => {
    expect(renderBoundary(q, { cursor: true, end: true })).toContain(
      'WHERE ("Region", "seq") > ($1::text, $2::integer) AND ("Region", "seq") <= ($3::text, $4::integer) ORDER BY "Region", "seq" LIMIT 1 OFFSET $5',
    );
    expect(renderBoundary(q, { cursor: false, end: true })).toContain(
      'WHERE ("Region", "seq") <= ($1::text, $2::integer) ORDER BY "Region", "seq" LIMIT 1 OFFSET $3',
    );
    expect(renderLastKey(q, { cursor: true, end: true })).toBe(
      'SELECT "Region"::text AS k0, "seq"::text AS k1 FROM "public"."pairs" WHERE ("Region", "seq") > ($1::text, $2::integer) AND ("Region", "seq") <= ($3::text, $4::integer) ORDER BY "Region" DESC, "seq" DESC LIMIT 1',
    );
    expect(renderKeySample(q, true)).toBe(
      'SELECT "Region"::text AS k0, "seq"::text AS k1, count(*) OVER () AS total FROM "public"."pairs" TABLESAMPLE SYSTEM ($1) ORDER BY "Region", "seq"',
    );
    expect(renderKeySample(q, false)).not.toContain('TABLESAMPLE');
  });
});

describe('lock retry backoff', () => {
  test('full jitter within [0, min(cap, base * 2^n)]', () => {
    const p = { ...DEFAULT_LOCK_POLICY, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffMs(p, 0, () => 1)).toBe(100);
    expect(backoffMs(p, 3, () => 1)).toBe(800);
    expect(backoffMs(p, 10, () => 1)).toBe(1000);
    expect(backoffMs(p, 10, () => 0)).toBe(0);
    expect(backoffMs(p, 2, () => 0.5)).toBe(200);
  });
});
