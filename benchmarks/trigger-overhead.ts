import pg from 'pg';
import { ident } from '../src/sql/ident.js';
import { ratio, round, summarize, type Summary } from './stats.js';
import { createBenchTable, dropBenchObjects, installDualWrite } from './tables.js';

export interface TriggerOverhead {
  table: string;
  tableRows: number;
  updatesPerSide: number;
  rounds: number;
  statement: string;
  withoutTriggerMs: Summary;
  withTriggerMs: Summary;
  /** with / without, of the p50 (the figure the target is checked on) and of the p99 and mean. */
  ratioP50: number | null;
  ratioP99: number | null;
  ratioMean: number | null;
}

/** A small deterministic PRNG, so both sides update the same sequence of rows. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Single-row UPDATE latency (autocommit, one connection, sequential) on one table without and
 * with pgshift's dual-write trigger. The two sides alternate in rounds (off/on, on/off, ...) so
 * that drift in the server's state (checkpoints, cache) does not land on one side only.
 */
export async function measureTriggerOverhead(url: string, tableRows: number, updatesPerSide: number, rounds = 4): Promise<TriggerOverhead> {
  const table = 'bench_trigger';
  const admin = new pg.Client({ connectionString: url, application_name: 'bench trigger-overhead' });
  admin.on('error', () => undefined);
  await admin.connect();
  try {
    await createBenchTable(admin, table, tableRows);
    const dual = await installDualWrite(admin, table, 'bench_trigger');
    let triggerOn = true;
    const setTrigger = async (on: boolean) => {
      if (on !== triggerOn) await admin.query(on ? dual.createTrigger : dual.dropTrigger);
      triggerOn = on;
    };
    const statement = `UPDATE ${ident(table)} SET name = $1 WHERE id = $2`;
    const perRound = Math.max(1, Math.ceil(updatesPerSide / rounds));
    const without: number[] = [];
    const withTrigger: number[] = [];
    const random = mulberry32(42);
    const ids = Array.from({ length: perRound }, () => 1 + Math.floor(random() * tableRows));
    let n = 0;
    const run = async (count: number, into: number[] | null) => {
      for (let i = 0; i < count; i++) {
        const id = ids[i % ids.length] as number;
        const t0 = performance.now();
        await admin.query(statement, [`name ${++n}`, id]);
        into?.push(performance.now() - t0);
      }
    };
    await setTrigger(false);
    await run(perRound, null); // warm-up: every row of the sequence once (its first update after the checkpoint writes a full page image)
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? [false, true] : [true, false];
      for (const on of order) {
        await setTrigger(on);
        await run(perRound, on ? withTrigger : without);
      }
    }
    const off = summarize(without);
    const on = summarize(withTrigger);
    const rounded = (x: number | null) => (x === null ? null : round(x));
    return {
      table,
      tableRows,
      updatesPerSide: without.length,
      rounds,
      statement,
      withoutTriggerMs: off,
      withTriggerMs: on,
      ratioP50: rounded(ratio(on.p50, off.p50)),
      ratioP99: rounded(ratio(on.p99, off.p99)),
      ratioMean: rounded(ratio(on.mean, off.mean)),
    };
  } finally {
    await dropBenchObjects(admin, table).catch(() => undefined);
    await admin.end();
  }
}
