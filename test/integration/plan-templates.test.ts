import { describe, expect, it } from 'vitest';
import { Pgshift } from '../../src/index.js';
import type { RenderedPhase } from '../../src/render-plan.js';
import { useDatabase } from '../support/database.js';
import { planDir } from '../support/plans.js';

// The backfill and verify loops that `plan --sql` prints are SQL a DBA can run: here they run, on
// a real table with more rows than one batch, and do what pgshift's own backfill and verify do.

const ROWS = 2500;

function template(phases: RenderedPhase[], phase: 'backfill' | 'verify'): string {
  const t = phases.find((p) => p.phase === phase)?.statements.find((s) => s.template)?.template;
  if (!t) throw new Error(`no ${phase} template in the plan`);
  return t;
}

describe('rendered loop templates', () => {
  const db = useDatabase();

  it('the setNotNull backfill template fills every NULL in batches; the verify template fails before and passes after', async () => {
    await db.query(`CREATE TABLE "Tpl Items" ("Key" bigint PRIMARY KEY, code text)`);
    await db.query(`INSERT INTO "Tpl Items" SELECT g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'c' || g END FROM generate_series(1, ${ROWS}) g`);
    const dir = planDir({
      't.json': { id: 't', operations: [{ kind: 'setNotNull', table: 'Tpl Items', column: 'code', fill: `'none'` }] },
    });
    const pgshift = new Pgshift({ databaseUrl: db.url, dir });
    try {
      const { phases } = await pgshift.plan('t');
      const backfill = template(phases, 'backfill');
      const verify = template(phases, 'verify');
      expect(backfill).toMatch(/batch_size constant bigint := 1000;/);
      expect(backfill).not.toMatch(/\$\d/);
      expect(verify).not.toMatch(/\$\d/);
      await pgshift.advance({ migration: 't', to: 'dual-write' });

      const nulls = Math.floor(ROWS / 3);
      await expect(db.query(verify)).rejects.toThrow(new RegExp(`verify 0\\.verify: ${nulls} of ${ROWS} rows do not satisfy`));

      const notices: string[] = [];
      const client = await db.pool.connect();
      try {
        client.on('notice', (n) => notices.push(n.message ?? ''));
        await client.query(backfill);
      } finally {
        client.removeAllListeners('notice');
        client.release();
      }
      const [left] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "Tpl Items" WHERE code IS NULL`);
      expect(left!.n).toBe(0);
      const [filled] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "Tpl Items" WHERE code = 'none'`);
      expect(filled!.n).toBe(nulls);
      // One notice per batch: three batches of up to 1000 keys over 2500 rows, the last one short.
      expect(notices.filter((n) => n.startsWith('backfill 0.backfill:'))).toHaveLength(Math.ceil(ROWS / 1000));
      expect(notices.at(-1)).toBe(`backfill 0.backfill done: ${nulls} rows updated`);

      await db.query(verify);
    } finally {
      await pgshift.close();
    }
  }, 180_000);
});
