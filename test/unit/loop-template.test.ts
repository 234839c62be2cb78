import { describe, expect, it } from 'vitest';
import { renderBackfillLoop, renderVerifyLoop } from '../../src/operations/blocks/loop-template.js';

const table = { schema: 'public', name: 'Order Items' };
const key = [
  { name: 'Region', type: 'text' },
  { name: 'seq', type: 'integer' },
];

describe('backfill and verify loop templates', () => {
  const backfill = renderBackfillLoop(
    { id: '0.backfill', table, key, set: [{ column: 'user', expression: '"select"' }], pending: '"user" IS DISTINCT FROM "select"' },
    { batchSize: 500 },
  );

  it('put variables where the engine binds parameters, over a composite key with hostile names', () => {
    expect(backfill).not.toMatch(/\$\d/);
    expect(backfill).toContain('batch_size constant bigint := 500;');
    expect(backfill).toContain(
      `SELECT "Region"::text AS k0, "seq"::text AS k1 FROM "public"."Order Items" WHERE ("Region", "seq") > (after_1::text, after_2::integer) ORDER BY "Region", "seq" LIMIT 1 OFFSET (batch_size - 1) INTO upto_1, upto_2;`,
    );
    expect(backfill).toContain(
      `UPDATE "public"."Order Items" SET "user" = "select" WHERE ("Region", "seq") > (after_1::text, after_2::integer) AND ("Region", "seq") <= (upto_1::text, upto_2::integer) AND ("user" IS DISTINCT FROM "select");`,
    );
    expect(backfill).toContain(
      `UPDATE "public"."Order Items" SET "user" = "select" WHERE ("Region", "seq") <= (upto_1::text, upto_2::integer) AND ("user" IS DISTINCT FROM "select");`,
    );
    expect(backfill).toContain("PERFORM pg_catalog.set_config('pgshift.backfill', 'on', true);");
    expect(backfill).toContain('after_1 := upto_1; after_2 := upto_2;');
    expect(backfill.split('\n').filter((l) => l === '$pgshift_backfill$;' || l === 'DO $pgshift_backfill$')).toEqual([
      'DO $pgshift_backfill$',
    ]);
    expect(backfill.endsWith('$pgshift_backfill$')).toBe(true);
  });

  it('choose a dollar-quote tag the body does not contain', () => {
    const loop = renderBackfillLoop(
      { id: 'x', table, key, set: [{ column: 'c', expression: `'$pgshift_backfill$'` }], pending: 'true' },
      { batchSize: 10 },
    );
    expect(loop).toMatch(/^DO \$pgshift_backfill_2\$$/m);
    expect(loop.endsWith('$pgshift_backfill_2$')).toBe(true);
  });

  it('raise with the count of mismatching rows in the verify loop, sampling keys with the sample size', () => {
    const verify = renderVerifyLoop(
      { id: '0.verify', table, key, mismatch: '"c" IS NULL', description: "c isn't NULL" },
      { chunkSize: 100, sampleSize: 5 },
    );
    expect(verify).not.toMatch(/\$\d/);
    expect(verify).toContain('chunk_size constant bigint := 100;');
    expect(verify).toContain('sample_size constant bigint := 5;');
    expect(verify).toContain(`AND ("c" IS NULL) ORDER BY "Region", "seq" LIMIT sample_size LOOP`);
    expect(verify).toContain(
      `RAISE EXCEPTION 'verify %: % of % rows do not satisfy: %', '0.verify', total_mismatches, total_rows, 'c isn''t NULL';`,
    );
  });
});
