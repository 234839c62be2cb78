import { expect } from 'vitest';
import { snapshot } from './catalog.js';
import { cli, type CliResult } from './cli.js';
import type { TestDatabase } from './database.js';
import { planDir } from './plans.js';

export interface Problem {
  path: string;
  message: string;
}

/**
 * Runs `advance --json` on `plans` and asserts what every refused plan must show: exit 2 with
 * `plan_rejected`, each of `tables` (SQL names) exactly as `snapshot` saw it before, and no
 * pgshift schema created. Returns the result and its problems, for the operation's own checks.
 */
export async function expectPlanRejected(
  db: TestDatabase,
  plans: Record<string, unknown>,
  tables: string[],
): Promise<{ result: CliResult; problems: Problem[] }> {
  const before = await Promise.all(tables.map((t) => snapshot(db, t)));
  const result = await cli(['advance', '--json'], { url: db.url, dir: planDir(plans) });
  expect(result.code, result.stderr).toBe(2);
  expect(result.json()).toMatchObject({ ok: false, exitCode: 2, error: 'plan_rejected' });
  expect(await Promise.all(tables.map((t) => snapshot(db, t)))).toEqual(before);
  expect(await db.query(`SELECT to_regnamespace('pgshift') AS ns`)).toEqual([{ ns: null }]);
  return { result, problems: result.json<{ problems: Problem[] }>().problems };
}

export interface VerifyEvidence {
  passed: boolean;
  mismatches: number;
  sampleKeys: string[];
  rowsChecked: number;
}

/**
 * `verify` of a migration in backfill finds exactly the rows `sampleKeys` (exit 3), and contract is
 * refused with the same keys (exit 3). Returns both results and the verification's evidence.
 */
export async function expectContractRefused(run: (...args: string[]) => Promise<CliResult>, id: string, sampleKeys: string[]) {
  const verify = await run('verify', id, '--json');
  expect(verify.code, verify.stderr).toBe(3);
  const [evidence] = verify.json<{ verifications: VerifyEvidence[] }>().verifications;
  expect(evidence).toMatchObject({ passed: false, mismatches: sampleKeys.length, sampleKeys });
  const contract = await run('advance', '--json');
  expect(contract.code, contract.stderr).toBe(3);
  expect(contract.json()).toMatchObject({ error: 'contract_refused', migration: id, mismatches: sampleKeys.length, sampleKeys });
  return { verify, contract, evidence: evidence! };
}
