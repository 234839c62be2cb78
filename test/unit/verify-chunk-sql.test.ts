import { describe, expect, test } from 'vitest';
import { renderVerifyChunk } from '../../src/sql/verify-chunk.js';

describe('the verification chunk reads its rows once', () => {
  const task = {
    table: { schema: 'Sales', name: 'Order Items' },
    key: [
      { name: 'order', type: 'bigint' },
      { name: 'Line"No', type: 'integer' },
    ],
    mismatch: '"new" IS DISTINCT FROM "old"',
  };

  test('with a cursor and a range end: counts, mismatches and the last key of the next $5 rows', () => {
    expect(renderVerifyChunk(task, { cursor: true, end: true })).toBe(
      'WITH chunk AS MATERIALIZED (SELECT "order", "Line""No", ("new" IS DISTINCT FROM "old") AS pgshift_mismatch FROM "Sales"."Order Items" ' +
        'WHERE ("order", "Line""No") > ($1::bigint, $2::integer) AND ("order", "Line""No") <= ($3::bigint, $4::integer) ORDER BY "order", "Line""No" LIMIT $5) ' +
        'SELECT (SELECT count(*)::int FROM chunk) AS rows, (SELECT count(*)::int FROM chunk WHERE pgshift_mismatch) AS mismatches, last.* ' +
        'FROM (SELECT 1) AS one LEFT JOIN (SELECT "order"::text AS k0, "Line""No"::text AS k1 FROM chunk ORDER BY "order" DESC, "Line""No" DESC LIMIT 1) AS last ON true',
    );
  });

  test('the first chunk of an open range has only the limit as parameter', () => {
    expect(renderVerifyChunk(task, { cursor: false, end: false })).toContain('WHERE true ORDER BY "order", "Line""No" LIMIT $1)');
  });
});
