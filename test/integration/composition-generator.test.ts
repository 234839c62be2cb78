import { expect, test } from 'vitest';
import { cli } from '../support/cli.js';
import { useDatabase, type TestDatabase } from '../support/database.js';
import { planDir } from '../support/plans.js';
import { BASE_SCHEMA, generatePlans } from '../support/plan-generator.js';

const PLANS = 20;
const db = useDatabase();

async function reset(database: TestDatabase) {
  await database.query(`DROP SCHEMA IF EXISTS public CASCADE; DROP SCHEMA IF EXISTS pgshift CASCADE; CREATE SCHEMA public`);
  await database.query(BASE_SCHEMA);
}

/** What a refused plan must leave untouched: columns, constraints, indexes, and no ledger. */
async function shape(database: TestDatabase) {
  return database.query(
    `SELECT (SELECT json_agg(table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable ORDER BY table_name, column_name) FROM information_schema.columns WHERE table_schema = 'public') AS columns,
            (SELECT json_agg(conname ORDER BY conname) FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND contype <> 'n') AS constraints,
            (SELECT json_agg(indexname ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public') AS indexes,
            to_regnamespace('pgshift') IS NOT NULL AS ledger`,
  );
}

// The property of issue 8 part 3: a plan either is refused at validation (exit 2, nothing changed)
// or reaches contract, verification included.
test('random combined plans are refused at validation or reach contract', async () => {
  const seed = Number(process.env.PGSHIFT_COMPOSE_SEED ?? Date.now() % 2 ** 31);
  console.log(`composition generator: seed ${seed} (rerun with PGSHIFT_COMPOSE_SEED=${seed})`);
  const outcomes = { refused: 0, contracted: 0, reasons: new Map<string, number>() };
  for (const plan of generatePlans(seed, PLANS)) {
    await reset(db);
    const dir = planDir({ [`${plan.id}.json`]: plan });
    const what = `seed ${seed}, plan ${JSON.stringify(plan)}`;
    const before = await shape(db);
    const dry = await cli(['advance', '--to', 'contract', '--dry-run', '--json'], { url: db.url, dir });
    expect([0, 2], `${what}: ${dry.stdout}`).toContain(dry.code);
    if (dry.code === 2) {
      const refusal = dry.json<{ error: string; problems: { message: string }[] }>();
      expect(['plan_invalid', 'plan_rejected'], what).toContain(refusal.error);
      for (const p of refusal.problems) {
        const reason = p.message.replace(/operations\[\d+\]/g, 'operations[i]');
        outcomes.reasons.set(reason, (outcomes.reasons.get(reason) ?? 0) + 1);
      }
      expect(await shape(db), what).toEqual(before);
      outcomes.refused++;
      continue;
    }
    const run = await cli(['advance', '--to', 'contract', '--json'], { url: db.url, dir });
    expect(run.code, `${what}: ${run.stdout}`).toBe(0);
    const [migration] = run.json<{
      migrations: { state: string; ran: { phase: string; details: { verification?: { id: unknown } } }[] }[];
    }>().migrations;
    expect(migration!.state, what).toBe('contract');
    expect(migration!.ran.find((r) => r.phase === 'contract')?.details.verification, what).toBeDefined();
    outcomes.contracted++;
  }
  console.log(`composition generator: ${PLANS} plans, ${outcomes.refused} refused, ${outcomes.contracted} reached contract`);
  for (const [reason, n] of outcomes.reasons) console.log(`  refused ×${n}: ${reason}`);
  expect(outcomes.refused + outcomes.contracted).toBe(PLANS);
});
