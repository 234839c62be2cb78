import type { KeyColumn } from '../../catalog/introspect.js';
import { BACKFILL_SETTING } from './names.js';
import type { BackfillTask, VerifyTask } from '../../plan/steps.js';
import { ident, literal } from '../../sql/ident.js';
import {
  renderBatchUpdate,
  renderBoundary,
  renderLastKey,
  renderMismatchKeys,
  renderVerifyCount,
  type KeysetQuery,
  type Placeholder,
} from '../../sql/keyset.js';

/**
 * The backfill and verification loops as SQL a person can read and run (psql, outside a
 * transaction block): one DO block per task whose statements are the engine's own keyset
 * statements, with PL/pgSQL variables where the engine binds `$n`. The key travels as text and is
 * cast back with the key's types, as in the engine. pgshift runs the same statements itself with an
 * adaptive batch size, checkpoints and throttling; the template has a fixed size to edit.
 */

export interface LoopSizes {
  /** Rows per backfill batch in the template (the engine adapts its own). */
  batchSize: number;
  /** Rows per verification chunk. */
  chunkSize: number;
  /** Mismatching keys reported per chunk. */
  sampleSize: number;
}

/** The template's sizes: a common first batch, and the engine's verification defaults. */
export const DEFAULT_LOOP_SIZES: LoopSizes = { batchSize: 1000, chunkSize: 50_000, sampleSize: 20 };

const after = (key: readonly KeyColumn[]) => key.map((_, i) => `after_${i + 1}`);
const upto = (key: readonly KeyColumn[]) => key.map((_, i) => `upto_${i + 1}`);

/** Placeholders from variable groups in parameter order: `$1` is the first name, and so on. */
function vars(...groups: string[][]): Placeholder {
  const names = groups.flat();
  return (n) => names[n - 1] ?? `$${n}`;
}

/** A dollar-quote tag that the body does not contain. */
function tagFor(base: string, body: string): string {
  let tag = `$${base}$`;
  for (let i = 2; body.includes(tag); i++) tag = `$${base}_${i}$`;
  return tag;
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

function indent(lines: string[], depth: number): string[] {
  return lines.map((l) => `${'  '.repeat(depth)}${l}`);
}

/** Declarations of the cursor (`after_i`) and the range end (`upto_i`), one per key column. */
function keyDeclarations(key: readonly KeyColumn[]): string[] {
  return key.flatMap((k, i) => [
    `after_${i + 1} text;  -- ${oneLine(ident(k.name))} (${oneLine(k.type)}) of the last row done; NULL before the first range`,
    `upto_${i + 1} text;  -- ${oneLine(ident(k.name))} of the last row of this range`,
  ]);
}

/** The statement with and without a cursor: the first range has none, as in the engine. */
function byCursor(withCursor: string, withoutCursor: string): string[] {
  return [`IF after_1 IS NULL THEN`, `  ${withoutCursor};`, `ELSE`, `  ${withCursor};`, `END IF;`];
}

/** Finds the next range's upper key: `size` rows on, or the last key when fewer remain; exits when none. */
function nextRange(q: KeysetQuery, size: string): string[] {
  const a = after(q.key);
  const u = upto(q.key);
  const into = ` INTO ${u.join(', ')}`;
  const offset = [`(${size} - 1)`];
  return [
    ...byCursor(
      renderBoundary(q, { cursor: true, end: false }, vars(a, offset)) + into,
      renderBoundary(q, { cursor: false, end: false }, vars(offset)) + into,
    ),
    `IF NOT FOUND THEN  -- fewer than ${size} rows remain: the last range ends at the last key`,
    ...indent(
      byCursor(
        renderLastKey(q, { cursor: true, end: false }, vars(a)) + into,
        renderLastKey(q, { cursor: false, end: false }, vars()) + into,
      ),
      1,
    ),
    `  EXIT WHEN NOT FOUND;`,
    `END IF;`,
  ];
}

function advanceCursor(key: readonly KeyColumn[]): string {
  return key.map((_, i) => `after_${i + 1} := upto_${i + 1};`).join(' ');
}

function doBlock(base: string, header: string[], body: string[]): string {
  const text = body.join('\n');
  const tag = tagFor(base, text);
  return [...header.map((h) => `-- ${oneLine(h)}`), `DO ${tag}`, text, `${tag}`].join('\n');
}

/** One backfill task as a DO block: batches in key order, each committed on its own. */
export function renderBackfillLoop(task: BackfillTask, sizes: Pick<LoopSizes, 'batchSize'>): string {
  const a = after(task.key);
  const u = upto(task.key);
  const body = [
    'DECLARE',
    ...indent(
      [
        `batch_size constant bigint := ${sizes.batchSize};  -- rows per batch (pgshift sizes its batches to the time they take)`,
        ...keyDeclarations(task.key),
        'done bigint := 0;',
        'n bigint;',
      ],
      1,
    ),
    'BEGIN',
    '  LOOP',
    ...indent(
      [
        ...nextRange(task, 'batch_size'),
        '-- the dual-write trigger leaves rows alone that this transaction computes in full',
        `PERFORM pg_catalog.set_config(${literal(BACKFILL_SETTING)}, 'on', true);`,
        ...byCursor(renderBatchUpdate(task, true, vars(a, u)), renderBatchUpdate(task, false, vars(u))),
        'GET DIAGNOSTICS n = ROW_COUNT;',
        'done := done + n;',
        advanceCursor(task.key),
        'COMMIT;  -- one short transaction per batch',
        `RAISE NOTICE 'backfill %: % rows updated, up to key %', ${literal(task.id)}, done, ${u.length === 1 ? u[0] : `concat_ws(', ', ${u.join(', ')})`};`,
      ],
      2,
    ),
    '  END LOOP;',
    `  RAISE NOTICE 'backfill % done: % rows updated', ${literal(task.id)}, done;`,
    'END',
  ];
  return doBlock(
    'pgshift_backfill',
    [
      `backfill ${task.id} of ${task.table.schema}.${task.table.name}, runnable in psql outside a transaction block:`,
      `pgshift runs these same statements with an adaptive batch size, a checkpoint per batch and throttling.`,
    ],
    body,
  );
}

/** One verification task as a DO block: counts mismatching rows chunk by chunk, raising at the end if any. */
export function renderVerifyLoop(task: VerifyTask, sizes: Pick<LoopSizes, 'chunkSize' | 'sampleSize'>): string {
  const a = after(task.key);
  const u = upto(task.key);
  const limit = ['sample_size'];
  const body = [
    'DECLARE',
    ...indent(
      [
        `chunk_size constant bigint := ${sizes.chunkSize};  -- rows per chunk`,
        `sample_size constant bigint := ${sizes.sampleSize};  -- mismatching keys reported per chunk`,
        ...keyDeclarations(task.key),
        'chunk_rows int;',
        'chunk_mismatches int;',
        'total_rows bigint := 0;',
        'total_mismatches bigint := 0;',
        'mismatch record;',
      ],
      1,
    ),
    'BEGIN',
    '  LOOP',
    ...indent(
      [
        ...nextRange(task, 'chunk_size'),
        ...byCursor(
          `${renderVerifyCount(task, true, vars(a, u))} INTO chunk_rows, chunk_mismatches`,
          `${renderVerifyCount(task, false, vars(u))} INTO chunk_rows, chunk_mismatches`,
        ),
        'total_rows := total_rows + chunk_rows;',
        'total_mismatches := total_mismatches + chunk_mismatches;',
        'IF chunk_mismatches > 0 THEN',
        '  IF after_1 IS NULL THEN',
        `    FOR mismatch IN ${renderMismatchKeys(task, false, vars(u, limit))} LOOP`,
        `      RAISE WARNING 'verify %: mismatch at key %', ${literal(task.id)}, mismatch;`,
        '    END LOOP;',
        '  ELSE',
        `    FOR mismatch IN ${renderMismatchKeys(task, true, vars(a, u, limit))} LOOP`,
        `      RAISE WARNING 'verify %: mismatch at key %', ${literal(task.id)}, mismatch;`,
        '    END LOOP;',
        '  END IF;',
        'END IF;',
        advanceCursor(task.key),
        'COMMIT;  -- no snapshot held across chunks',
      ],
      2,
    ),
    '  END LOOP;',
    '  IF total_mismatches > 0 THEN',
    `    RAISE EXCEPTION 'verify %: % of % rows do not satisfy: %', ${literal(task.id)}, total_mismatches, total_rows, ${literal(task.description)};`,
    '  END IF;',
    `  RAISE NOTICE 'verify %: % rows, none mismatching', ${literal(task.id)}, total_rows;`,
    'END',
  ];
  return doBlock(
    'pgshift_verify',
    [
      `verify ${task.id} of ${task.table.schema}.${task.table.name}: ${task.description}`,
      `runnable in psql outside a transaction block; raises an error naming the count when any row mismatches.`,
    ],
    body,
  );
}
