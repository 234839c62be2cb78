import type { BenchResults, Spread, StrategyKey, StrategyResult, StrategySummary, TargetResult } from './results.js';
import { STRATEGY_DESCRIPTIONS, STRATEGY_KEYS, STRATEGY_LABELS } from './results.js';
import { fmtInt, fmtMs, fmtRatio, fmtSeconds, ratio, spread } from './stats.js';

/** Every strategy over the rounds: medians and min–max, ratios taken within each round first. */
export function summarizeRuns(keys: readonly StrategyKey[], runs: readonly StrategyResult[]): StrategySummary[] {
  return keys.map((key) => {
    const all = runs.filter((r) => r.key === key);
    const ok = all.filter((r) => !r.error);
    const of = (f: (r: StrategyResult) => number | null | undefined) => spread(ok.map(f));
    return {
      key,
      label: STRATEGY_LABELS[key],
      rounds: all.length,
      failed: all.length - ok.length,
      extrapolated: ok.some((r) => r.extrapolated),
      rowsPerSecond: of((r) => r.rowsPerSecond),
      seconds: of((r) => r.seconds),
      ratioToLimit: of((r) => r.ratioToLimit),
      ratioToTriggerLoop: of((r) => r.ratioToTriggerLoop),
      ratioToA: of((r) => r.ratioToA),
      batches: of((r) => r.batches),
      batchP99: of((r) => r.batchMs?.p99),
      appBeforeP50: of((r) => r.app.before?.latencyMs.p50),
      appBeforeP99: of((r) => r.app.before?.latencyMs.p99),
      appDuringP50: of((r) => r.app.during?.latencyMs.p50),
      appDuringP99: of((r) => r.app.during?.latencyMs.p99),
      appP99Ratio: of((r) => r.app.p99Ratio),
      heapRatio: of((r) => r.size?.heapRatio),
      indexRatio: of((r) => r.size?.indexRatio),
      totalRatio: of((r) => r.size?.totalRatio),
      verifySeconds: of((r) => r.pgshift?.verifySeconds),
      verifyRatio: of((r) => r.pgshift?.verifyRatio),
      maxRssMb: of((r) => r.pgshift?.maxRssMb),
    };
  });
}

/** The summaries of a results file (computed for a format-1 file, which has one round and none stored). */
export function summariesOf(results: BenchResults): StrategySummary[] {
  return (
    results.summaries ??
    summarizeRuns(
      results.options.strategies,
      results.strategies.map((s) => ({ ...s, round: s.round ?? 1 })),
    )
  );
}

/** `a` ÷ `b` of a per-run figure, taken within each round, over the rounds. */
function roundRatio(results: BenchResults, a: StrategyKey, b: StrategyKey, f: (r: StrategyResult) => number | null | undefined): Spread {
  const rounds = [...new Set(results.strategies.map((s) => s.round ?? 1))];
  return spread(
    rounds.map((n) => {
      const x = results.strategies.find((s) => s.key === a && (s.round ?? 1) === n && !s.error);
      const y = results.strategies.find((s) => s.key === b && (s.round ?? 1) === n && !s.error);
      return x && y ? ratio(f(x), f(y)) : null;
    }),
  );
}

/** "median (min–max)", or the one value when the rounds agree or there is one. */
export function fmtSpread(s: Spread | undefined, fmt: (n: number) => string): string {
  if (!s || s.median === null) return 'n/a';
  if (s.n === 1 || s.min === s.max) return fmt(s.median);
  return `${fmt(s.median)} (${fmt(s.min as number)}–${fmt(s.max as number)})`;
}

const x2 = (n: number) => `${n.toFixed(2)}×`;
const x3 = (n: number) => `${n.toFixed(3)}×`;

/**
 * The targets, each computed from this run's measurements (medians over the rounds of ratios
 * taken within each round); a missing measurement (a strategy not run, a field the engine does not
 * report) gives "n/a", never a guess.
 */
export function computeTargets(results: BenchResults): TargetResult[] {
  const sums = summariesOf(results);
  const s = (k: StrategyKey) => sums.find((x) => x.key === k && x.rowsPerSecond.n > 0);
  const target = (
    id: string,
    label: string,
    goal: string,
    value: Spread,
    /** Whether the value meets the goal; null for a figure shown for information (goal 'info'). */
    ok: (v: number) => boolean | null,
    display = fmtSpread(value, x3),
    note: string | null = null,
  ): TargetResult => ({
    id,
    label,
    goal,
    measured: value.median,
    display,
    met: value.median === null ? null : ok(value.median),
    note,
  });
  const rps = (r: StrategyResult) => r.rowsPerSecond;
  const d = s('d');
  const targets: TargetResult[] = [
    target(
      'd/f0',
      'rows/s (d) / (f0), the no-trigger hand loop',
      '≥ 0.9×',
      roundRatio(results, 'd', 'f0', rps),
      (v) => v >= 0.9,
      undefined,
      'pgshift through its library API in a child process (CLI start-up not included)',
    ),
    target('d/f', 'rows/s (d) / (f), the hand loop with the trigger', '≥ 1.0×', roundRatio(results, 'd', 'f', rps), (v) => v >= 1.0),
    target(
      'fs/f0',
      'rows/s (f-skip) / (f0): what the trigger costs even when skipped (the floor of (d) / (f0))',
      'info',
      roundRatio(results, 'fs', 'f0', rps),
      () => null,
    ),
    target('d/fs', "rows/s (d) / (f-skip): pgshift's own cost over the same loop", 'info', roundRatio(results, 'd', 'fs', rps), () => null),
    target('d/dng', 'rows/s (d) / (d-ng), governor on / off', '≥ 0.8×', roundRatio(results, 'd', 'dng', rps), (v) => v >= 0.8),
    target('e/a', 'rows/s (e) / (a)', '≥ 1.6×', roundRatio(results, 'e', 'a', rps), (v) => v >= 1.6),
    target(
      'd/b',
      'rows/s (d) / (b)',
      '≥ 60×',
      roundRatio(results, 'd', 'b', rps),
      (v) => v >= 60,
      undefined,
      s('b')?.extrapolated ? '(b) extrapolated from its capped run' : null,
    ),
    target('d/c', 'rows/s (d) / (c)', '≥ 2×', roundRatio(results, 'd', 'c', rps), (v) => v >= 2),
  ];
  const ms = (n: number) => `${fmtMs(n)} ms`;
  targets.push(
    target(
      'batch-p99',
      'batch p99 of (d)',
      '≤ 250 ms at a 200 ms target',
      d?.batchP99 ?? spread([]),
      (v) => v <= 250,
      fmtSpread(d?.batchP99, ms),
    ),
  );
  targets.push(
    target(
      'app-p99',
      'app write p99 during (d) / before',
      '≤ 1.5×',
      d?.appP99Ratio ?? spread([]),
      (v) => v <= 1.5,
      `${fmtSpread(d?.appP99Ratio, x3)}; ${fmtSpread(d?.appBeforeP99, ms)} → ${fmtSpread(d?.appDuringP99, ms)}`,
    ),
  );
  targets.push(
    target(
      'disk',
      'table + indexes after (d) / before',
      '≤ 1.4×',
      d?.totalRatio ?? spread([]),
      (v) => v <= 1.4,
      `${fmtSpread(d?.totalRatio, x2)} (heap ${fmtSpread(d?.heapRatio, x2)}, indexes ${fmtSpread(d?.indexRatio, x2)})`,
    ),
  );
  const dri = s('dri');
  targets.push(
    target(
      'disk-reindex',
      'table + indexes after (d-ri) / before, with the opt-in --reindex-after',
      '≤ 1.4×',
      dri?.totalRatio ?? spread([]),
      (v) => v <= 1.4,
      `${fmtSpread(dri?.totalRatio, x2)} (heap ${fmtSpread(dri?.heapRatio, x2)}, indexes ${fmtSpread(dri?.indexRatio, x2)})`,
    ),
  );
  const overheadShares = results.strategies
    .filter((r) => r.key === 'd' && !r.error)
    .map((r) => {
      const tasks = Object.values(r.pgshift?.tasks ?? {}) as { overhead?: { ms?: unknown; share?: unknown } }[];
      const parts = tasks.map((t) => t.overhead);
      if (!parts.length || parts.some((o) => typeof o?.ms !== 'number' || typeof o.share !== 'number' || o.share <= 0)) return null;
      const ms = parts.reduce((n, o) => n + (o!.ms as number), 0);
      return ms / parts.reduce((n, o) => n + (o!.ms as number) / (o!.share as number), 0);
    });
  targets.push(
    target(
      'overhead',
      'per-batch overhead of (d): time outside the UPDATEs / batch time',
      '≤ 3%',
      spread(overheadShares),
      (v) => v <= 0.03,
      fmtSpread(spread(overheadShares), (v) => `${(100 * v).toFixed(1)}%`),
    ),
  );
  const trigger = results.triggerOverhead && 'ratioP50' in results.triggerOverhead ? results.triggerOverhead : null;
  targets.push(
    target(
      'trigger',
      'dual-write trigger: UPDATE p50 with / without',
      '≤ 1.25×',
      spread([trigger?.ratioP50]),
      (v) => v <= 1.25,
      trigger
        ? `${fmtRatio(trigger.ratioP50, 3)} (${fmtMs(trigger.withoutTriggerMs.p50)} → ${fmtMs(trigger.withTriggerMs.p50)} ms)`
        : 'n/a',
      trigger ? `p99 ratio ${fmtRatio(trigger.ratioP99)}` : null,
    ),
  );
  targets.push(
    target(
      'verify',
      'verification / backfill time (d)',
      '≤ 0.15×',
      d?.verifyRatio ?? spread([]),
      (v) => v <= 0.15,
      `${fmtSpread(d?.verifyRatio, x3)}; ${fmtSpread(d?.verifySeconds, fmtSeconds)} / ${fmtSpread(d?.seconds, fmtSeconds)}`,
    ),
  );
  return targets;
}

const metText = (met: boolean | null) => (met === null ? 'n/a' : met ? 'met' : 'MISSED');

function pair(a: Spread | undefined, b: Spread | undefined): string {
  return a?.median == null && b?.median == null ? 'n/a' : `${fmtMs(a?.median)} / ${fmtMs(b?.median)}`;
}

/** One row of cells per strategy, from its summary over the rounds (terminal and markdown tables). */
function summaryCells(r: StrategySummary): string[] {
  if (r.rowsPerSecond.n === 0) return [r.label, 'failed', '', '', '', '', '', '', '', '', ''];
  const star = r.extrapolated ? ' *' : '';
  const pgshift = r.key === 'd' || r.key === 'dng' || r.key === 'dri' || r.key === 'e';
  const size = r.totalRatio.n ? `${fmtSpread(r.heapRatio, x2)} / ${fmtSpread(r.indexRatio, x2)} / ${fmtSpread(r.totalRatio, x2)}` : 'n/a';
  return [
    r.label,
    `${fmtSpread(r.rowsPerSecond, fmtInt)}${star}`,
    fmtSpread(r.ratioToLimit, x2),
    fmtSpread(r.ratioToTriggerLoop, x2),
    `${fmtSpread(r.seconds, fmtSeconds)}${star}`,
    pair(r.appBeforeP50, r.appBeforeP99),
    pair(r.appDuringP50, r.appDuringP99),
    fmtSpread(r.appP99Ratio, x2),
    size,
    pgshift ? `${fmtSpread(r.verifyRatio, x2)}; ${fmtSpread(r.verifySeconds, fmtSeconds)}` : '',
    pgshift ? fmtSpread(r.maxRssMb, (n) => `${n.toFixed(1)} MB`) : '',
  ];
}

const HEADER = [
  'strategy',
  'rows/s',
  '× (f0) limit',
  '× (f) trigger loop',
  'time',
  'app p50 / p99 before ms',
  'app p50 / p99 during ms',
  'app p99 during ÷ before',
  'size after ÷ before: heap / indexes / total',
  'verify ÷ backfill; verify time',
  'peak RSS',
];

/** Per run: batches and batch times (what a median hides). */
function runCells(r: StrategyResult): string[] {
  if (r.error) return [r.label, String(r.round ?? 1), 'failed', '', '', ''];
  const unit = r.batches === 1 ? r.batchUnit : r.batchUnit.endsWith('h') ? `${r.batchUnit}es` : `${r.batchUnit}s`;
  const batch = r.batchMs ? `${fmtMs(r.batchMs.p50)} / ${fmtMs(r.batchMs.p99)} / ${fmtMs(r.batchMs.max)}` : 'n/a';
  return [
    r.label,
    String(r.round ?? 1),
    `${fmtInt(r.rowsPerSecond)}${r.extrapolated ? ' *' : ''}`,
    r.batches === null ? 'n/a' : `${fmtInt(r.batches)} ${unit}`,
    batch,
    r.loadAverage ? r.loadAverage.map((l) => l.toFixed(2)).join(' ') : 'n/a',
  ];
}

const RUN_HEADER = ['strategy', 'round', 'rows/s', 'batches', 'batch p50 / p99 / max ms', 'load average at start (1/5/15 min)'];

function textTable(rows: string[][]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Markdown-safe cell or line: pipes and asterisks escaped. */
const md = (c: string) => c.replaceAll('|', '\\|').replaceAll('*', '\\*');

function mdTable(rows: string[][], numeric = true): string {
  const [head, ...body] = rows;
  const line = (r: string[]) => `| ${r.map(md).join(' | ')} |`;
  return [line(head ?? []), `|${(head ?? []).map((_, i) => (i === 0 || !numeric ? '---' : '---:')).join('|')}|`, ...body.map(line)].join(
    '\n',
  );
}

function targetRows(results: BenchResults): string[][] {
  return [
    ['target', 'goal', 'measured', 'result', 'note'],
    ...results.targets.map((t) => [t.label, t.goal, t.display, t.goal === 'info' ? '' : metText(t.met), t.note ?? '']),
  ];
}

function setupLine(results: BenchResults): string {
  const m = results.machine;
  const changed = Object.entries(m.settingsChanged)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return (
    `${fmtInt(results.options.rows)} rows; PostgreSQL ${m.postgres ?? '?'} (${m.server}${changed ? `; set: ${changed}` : '; server settings unchanged'}); ` +
    `${m.cpus} × ${m.cpuModel}, ${m.totalMemoryGb} GB RAM, Node ${m.node}; commit ${m.gitCommit ?? 'n/a'}` +
    `${m.gitUncommittedEngineFiles?.length ? ` + ${m.gitUncommittedEngineFiles.length} uncommitted engine file(s)` : ''}` +
    `${results.options.repeat && results.options.repeat > 1 ? `; ${results.options.repeat} rounds (medians, min–max in brackets)` : '; one round'}` +
    `${m.loadAverageStart ? `; load average (1/5/15 min) ${m.loadAverageStart.join(' ')} at the start, ${(m.loadAverageEnd ?? []).join(' ')} at the end` : ''}` +
    `${results.options.note ? `. ${results.options.note}` : ''}`
  );
}

function notes(results: BenchResults): string[] {
  const out: string[] = [];
  if (results.strategies.some((s) => s.extrapolated))
    out.push(
      `* extrapolated: (b) stopped at its ${results.options.bCapSeconds} s cap; its total time is rows ÷ (rows done per second in the cap), which is optimistic because OFFSET pages get slower as the offset grows.`,
    );
  const rounds = (results.options.repeat ?? 1) > 1;
  for (const s of results.strategies) {
    const who = rounds ? `${s.label} [round ${s.round}]` : s.label;
    if (s.error) out.push(`${who}: FAILED: ${s.error.split('\n')[0]}`);
    for (const n of s.notes) out.push(`${who}: ${n}`);
  }
  return out;
}

/** The terminal report. */
export function renderText(results: BenchResults, file: string | null): string {
  const lines: string[] = [];
  lines.push('', `pgshift backfill benchmark: ${setupLine(results)}`);
  lines.push(
    `app load: ${results.options.appRate} writes/s (${Math.round(results.options.appInsertShare * 100)}% INSERT, the rest single-row UPDATEs), ` +
      `baseline ${results.options.baselineSeconds} s before each strategy; pgshift's dual-write trigger on every table but (f0)'s`,
  );
  lines.push('', textTable([HEADER, ...summariesOf(results).map(summaryCells)]));
  lines.push('', textTable([RUN_HEADER, ...results.strategies.map(runCells)]));
  for (const n of notes(results)) lines.push(n);
  const t = results.triggerOverhead;
  if (t && 'ratioP50' in t) {
    lines.push(
      '',
      `dual-write trigger overhead (${t.updatesPerSide} sequential single-row UPDATEs per side, autocommit): ` +
        `without p50 ${fmtMs(t.withoutTriggerMs.p50)} / p99 ${fmtMs(t.withoutTriggerMs.p99)} ms; ` +
        `with p50 ${fmtMs(t.withTriggerMs.p50)} / p99 ${fmtMs(t.withTriggerMs.p99)} ms; ratio p50 ${fmtRatio(t.ratioP50)}, p99 ${fmtRatio(t.ratioP99)}`,
    );
  } else if (t && 'error' in t) lines.push('', `dual-write trigger overhead: failed: ${t.error}`);
  lines.push('', textTable(targetRows(results)));
  lines.push('', `total ${fmtSeconds(results.totalSeconds)}${file ? `; results: ${file}` : ''}`, '');
  return lines.join('\n');
}

function escapeXml(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

/** A horizontal bar chart of rows/s per strategy, as a hand-written SVG. */
export function renderSvg(results: BenchResults): string {
  const rows = summariesOf(results).filter((s) => s.rowsPerSecond.median !== null);
  const width = 820;
  const labelW = 250;
  const valueW = 150;
  const barMax = width - labelW - valueW - 20;
  const rowH = 30;
  const top = 56;
  const height = top + rows.length * rowH + 34;
  const max = Math.max(1, ...rows.map((r) => r.rowsPerSecond.max ?? 0));
  const colour = (k: StrategyKey) =>
    k === 'd' || k === 'dng' || k === 'dri' || k === 'e' ? '#2f7d4f' : k === 'f0' ? '#b5651d' : k === 'a' ? '#5b6f8f' : '#8a94a6';
  const at = (v: number | null) => labelW + Math.max(1, ((v ?? 0) / max) * barMax);
  const bars = rows.map((r, i) => {
    const y = top + i * rowH;
    const w = at(r.rowsPerSecond.median) - labelW;
    const value = `${fmtInt(r.rowsPerSecond.median)} rows/s${r.extrapolated ? ' (extrapolated)' : ''}`;
    // The spread over the rounds: a whisker from min to max.
    const whisker =
      r.rowsPerSecond.n > 1 && r.rowsPerSecond.min !== r.rowsPerSecond.max
        ? `  <line x1="${at(r.rowsPerSecond.min).toFixed(1)}" y1="${y + 15}" x2="${at(r.rowsPerSecond.max).toFixed(1)}" y2="${y + 15}" stroke="#222" stroke-width="1.5"/>`
        : null;
    return [
      `  <text x="${labelW - 10}" y="${y + 19}" text-anchor="end">${escapeXml(r.label)}</text>`,
      `  <rect x="${labelW}" y="${y + 5}" width="${w.toFixed(1)}" height="${rowH - 10}" fill="${colour(r.key)}"${r.extrapolated ? ' fill-opacity="0.45" stroke="#555" stroke-dasharray="4 3"' : ''}/>`,
      ...(whisker ? [whisker] : []),
      `  <text x="${(at(Math.max(r.rowsPerSecond.median ?? 0, r.rowsPerSecond.max ?? 0)) + 8).toFixed(1)}" y="${y + 19}">${escapeXml(value)}</text>`,
    ].join('\n');
  });
  const repeat = results.options.repeat ?? 1;
  const title = `Backfill rows/s, ${fmtInt(results.options.rows)} rows, ${results.options.appRate} app writes/s (higher is better)${repeat > 1 ? `, median of ${repeat} rounds, min–max whiskers` : ''}`;
  const sub = `${results.startedAt.slice(0, 10)} · PostgreSQL ${results.machine.postgres ?? '?'} · ${results.machine.cpus} × ${results.machine.cpuModel} · commit ${results.machine.gitCommit ?? 'n/a'}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="13">`,
    `  <rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `  <text x="12" y="22" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    `  <text x="12" y="42" font-size="11" fill="#555">${escapeXml(sub)}</text>`,
    ...bars,
    `  <line x1="${labelW}" y1="${top}" x2="${labelW}" y2="${top + rows.length * rowH}" stroke="#333"/>`,
    `  <text x="12" y="${height - 10}" font-size="11" fill="#555">Measured by npm run bench; every strategy but (f0) ran with pgshift's dual-write trigger on the table; all with the same app load.</text>`,
    '</svg>',
    '',
  ].join('\n');
}

/**
 * Where each pgshift run's time went, from the engine's own phase result (details.tasks): the
 * wall time of `advance --to backfill` against the engine's task time (the rest is start-up,
 * planning and the phase's bookkeeping), batches and their mean size, its own VACUUMs, the
 * batches that kept app sessions waiting, and verification.
 */
function pgshiftRows(results: BenchResults): string[][] {
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const rows: string[][] = [];
  for (const r of results.strategies) {
    const p = r.pgshift;
    if (!p || r.error) continue;
    const tasks = Object.values(p.tasks ?? {}) as Record<string, unknown>[];
    const sum = (f: (t: Record<string, unknown>) => unknown) =>
      tasks.reduce<number | null>((n, t) => (n === null || num(f(t)) === null ? null : n + (num(f(t)) as number)), 0);
    const vac = (t: Record<string, unknown>) => t.vacuum as Record<string, unknown> | undefined;
    const app = (t: Record<string, unknown>) => t.appImpact as Record<string, unknown> | undefined;
    const batches = sum((t) => t.batches);
    const updated = sum((t) => t.rowsUpdated);
    const wall = r.seconds;
    const engine = p.engineSeconds;
    const maxWait = Math.max(0, ...tasks.map((t) => num(app(t)?.maxWaitMs) ?? 0));
    rows.push([
      r.label,
      String(r.round ?? 1),
      fmtSeconds(wall),
      fmtSeconds(engine),
      wall !== null && engine !== null ? fmtSeconds(wall - engine) : 'n/a',
      batches === null ? 'n/a' : fmtInt(batches),
      batches && updated !== null ? fmtInt(updated / batches) : 'n/a',
      `${fmtInt(sum((t) => vac(t)?.runs))} / ${fmtSeconds((sum((t) => vac(t)?.ms) ?? NaN) / 1000)}`,
      overheadCell(tasks),
      `${fmtInt(sum((t) => app(t)?.blockingBatches))} / ${fmtInt(maxWait)} ms`,
      fmtSeconds(p.verifySeconds),
    ]);
  }
  return rows.length
    ? [
        [
          'strategy',
          'round',
          'advance --to backfill',
          'engine task time',
          'outside the task',
          'batches',
          'mean rows / batch',
          'own VACUUMs / time (in the background)',
          'per-batch overhead: share / ms per batch',
          'batches that kept app waiting / longest wait',
          'verify',
        ],
        ...rows,
      ]
    : [];
}

/** The engine's `overhead` (time of batches outside their UPDATE), over all tasks: share of batch time and ms per batch. */
function overheadCell(tasks: Record<string, unknown>[]): string {
  const parts = tasks.map((t) => t.overhead as { ms?: unknown; share?: unknown; perBatchMs?: unknown } | undefined);
  const ms = parts.map((o) => (typeof o?.ms === 'number' ? o.ms : null));
  const share = parts.map((o) => (typeof o?.share === 'number' && o.share > 0 ? o.share : null));
  const batches = tasks.map((t) => (typeof t.batches === 'number' ? t.batches : null));
  if (!parts.length || ms.includes(null) || share.includes(null) || batches.includes(null)) return 'n/a';
  const total = (ms as number[]).reduce((a, b) => a + b, 0);
  // Each task's batch time is its overhead ÷ its share.
  const batchTime = (ms as number[]).reduce((n, m, i) => n + m / (share[i] as number), 0);
  const count = (batches as number[]).reduce((a, b) => a + b, 0);
  return `${((100 * total) / batchTime).toFixed(1)}% / ${count ? (total / count).toFixed(1) : 'n/a'} ms`;
}

/** The lag overshoot of the replica-lag work, quoted from its own results file (npm run bench:standby-lag). */
function standbyLagSection(standbyLag: { file: string; data: unknown } | null): string {
  const data = standbyLag?.data as
    | {
        results?: {
          scenario: string;
          engine: string;
          held: string;
          median: { overshootMs: number | null; overshootBytes: number | null; worstLagMs: number | null };
        }[];
        rows?: number;
      }
    | undefined;
  const rows = (data?.results ?? []).filter((r) => r.engine === 'new');
  if (!standbyLag || !rows.length) return '';
  const fmt = (n: number | null, unit: string) => (n === null ? 'n/a' : `${n > 0 ? '+' : ''}${fmtInt(n)} ${unit}`);
  return `Replica lag (from [${standbyLag.file}](../${standbyLag.file}), \`npm run bench:standby-lag\`, described in
[benchmarks-standby-lag.md](benchmarks-standby-lag.md)): how far past \`--max-lag\` / \`--max-lag-bytes\` the standby's lag went
once it broke (median over its trials; negative means the backfill held before the limit):

${mdTable([['scenario', 'held', 'overshoot (time)', 'overshoot (bytes)', 'worst lag ms'], ...rows.map((r) => [r.scenario, r.held, fmt(r.median.overshootMs, 'ms'), fmt(r.median.overshootBytes, 'B'), r.median.worstLagMs === null ? 'n/a' : fmtInt(r.median.worstLagMs)])])}

`;
}

/** docs/benchmarks.md, regenerated from a results file. */
export function renderMarkdown(
  results: BenchResults,
  resultsFile: string,
  svgFile: string,
  standbyLag: { file: string; data: unknown } | null = null,
): string {
  const t = results.triggerOverhead;
  const repeat = results.options.repeat ?? 1;
  const strategies = STRATEGY_KEYS.map((k) => `| ${STRATEGY_LABELS[k]} | ${STRATEGY_DESCRIPTIONS[k]} |`);
  const m = results.machine;
  const settings = Object.entries(m.settings)
    .map(([k, v]) => `\`${k}=${v}\``)
    .join(', ');
  return `# Benchmarks

<!-- Generated by \`npm run bench\` (benchmarks/run.ts) from ${resultsFile}. Do not edit by hand: rerun the benchmark, or
     \`npm run bench -- --docs-from ${resultsFile}\` to regenerate this page from a results file. -->

The backfill benchmark compares pgshift's backfill with the other ways of doing the same job, on the same server, under the
same app load. Speed is measured here and only here; no test passes or fails on a timing. Every figure below comes from a
run (the results file named above); ratios compare strategies measured in the same run.

## How to run

\`\`\`sh
npm run bench                                # 1,000,000 rows, every strategy, embedded PostgreSQL
npm run bench -- --rows 10000000             # 10 million rows
npm run bench -- --strategies a,d,f          # a subset
npm run bench -- --repeat 3                  # three rounds: medians and min–max
npm run bench -- --database-url postgres://user@host/db   # an existing server (a scratch database is created and dropped)
\`\`\`

| Option | Default | |
|---|---|---|
| \`--rows <n>\` | 1,000,000 | Rows in each strategy's table. |
| \`--strategies <list>\` | all | Any of \`f0,a,b,c,d,dng,dri,e,f,fs,f10k,f2\`; \`f\` alone means the whole keyset-loop family (\`f0,f,fs,f10k,f2\`), \`f50k\` only the 50k loop with the trigger. |
| \`--repeat <n>\` | 1 | Rounds: every strategy runs once per round, in reverse order on even rounds; the tables show medians with min–max. Ratios are taken within each round (against the baselines measured in that round), then summarized. |
| \`--note <text>\` | | A remark kept in the results file and shown here (for instance that the machine was shared). |
| \`--app-rate <n>\` | 200 | App writes per second during every strategy (and its baseline). |
| \`--database-url <url>\` | embedded | Use this server instead of the embedded PostgreSQL; a scratch database is created there and dropped at the end. |
| \`--out <dir>\` | \`benchmarks/results\` | Where \`<YYYY-MM-DD>-<rows>[-x<repeat>][-<strategies>].json\` is written. |
| \`--b-cap <s>\` | 60 | Time cap of strategy (b); its total is extrapolated. |
| \`--b-commit <mode>\` | \`once\` | Transactions of (b): \`once\` (one transaction, as Alembic runs an upgrade on PostgreSQL), \`page\`, or \`row\` (autocommit). |
| \`--baseline <s>\` | 5 | App-load baseline measured before each strategy. |
| \`--trigger-updates <n>\` | 3000 | Single-row UPDATEs per side for the trigger-overhead measurement. |
| \`--no-docs\` | | Do not regenerate this page and the chart. |
| \`--docs-from <file>\` | | Only regenerate this page and the chart from a results file. |
| \`--pgshift-root <dir>\` | this checkout | Run (d) and (e) with the pgshift in another checkout (to compare engines). |

The embedded server (\`startEmbeddedPostgres()\`, PostgreSQL from npm) keeps its default durability (\`fsync\`,
\`synchronous_commit\` and \`full_page_writes\` on); the benchmark only raises \`shared_buffers\` to 1GB and \`max_wal_size\`
to 4GB. With \`--database-url\` no server setting is changed. A default run takes a few minutes on a 2-core machine.

## What runs

For each strategy a fresh, identical table \`bench_<strategy>\`: \`id bigint\` primary key (identity), \`email text NOT NULL\`,
\`name\`, \`status\`, \`created_at timestamptz\`, \`amount numeric\`, an index on \`created_at\`, filled with
\`generate_series\`, then \`VACUUM ANALYZE\` and \`CHECKPOINT\`. The job is the \`renameColumn\` backfill: a new nullable column
\`email_address\` beside \`email\`, to be set to \`email\` on every row. The table is dropped before the next strategy starts.

**The dual-write trigger is on the table in every strategy but (f0)**, (a) and (b) included: in an expand-contract rename, writes
must reach both columns from before the backfill starts until contract, or writes made during the backfill are lost. So
every strategy pays the trigger on its own UPDATEs, as it would in production. For (d) and (e) pgshift installs it
(\`advance --to dual-write\`); for the others the harness runs pgshift's own rendered expand and dual-write steps
(\`renameColumnHandler.steps()\`), so it is the same per-row plpgsql trigger. (f0) is the exception on purpose: the same
hand loop as (f) on a table with only the new column, the physical limit of one connection, against which pgshift's
throughput is measured.

The table's size (\`pg_table_size\`: heap with its free space and visibility maps and TOAST; \`pg_indexes_size\`) is read
after the strategy's setup and again right after it ends (app load stopped); "size after ÷ before" is their ratio, for the
heap, the indexes and both. pgshift's defaults include its own \`VACUUM\` every 20% of the rows (\`--vacuum-every\`); the
other strategies leave the table to autovacuum (on, at its defaults), as they would in production.

While each strategy runs, an app load writes from other connections (a pool of 16): single-row UPDATEs of random
existing rows (\`name\` or \`status\`) and single-row INSERTs (20%), at a fixed total rate. It is open loop: writes are
issued on schedule whether or not earlier ones have finished, and a write's latency runs from the moment it is handed to
the app's connection pool, so time spent waiting for a free connection (all 16 blocked behind a strategy's row locks)
counts in full. Each write counts in the window in which it was issued. The same load runs for
${results.options.baselineSeconds} s before the strategy starts (baseline, after 1 s of warm-up), then during it.

| Strategy | What it is |
|---|---|
${strategies.join('\n')}

Also measured: the trigger's overhead on the app's writes. On one table, ${results.options.triggerUpdates} sequential
single-row \`UPDATE … SET name = $1 WHERE id = $2\` (autocommit) per side, without and with pgshift's trigger, alternating
in rounds.

## Latest results

${setupLine(results)}. Run on ${results.startedAt.slice(0, 10)}, ${fmtSeconds(results.totalSeconds)} in all. Server settings: ${settings}.

![Backfill rows/s per strategy](${svgFile})

${mdTable([HEADER, ...summariesOf(results).map(summaryCells)])}

${repeat > 1 ? `Each figure is the median over ${repeat} rounds, with the smallest and largest in brackets when they differ; a ratio is taken within each round first.` : 'One round: each figure is a single measurement.'}
"× (f0) limit" and "× (f) trigger loop" are rows/s divided by those of (f0) and (f) measured in the same round. App write
latencies are the p50 / p99 of the app load's writes issued in the 5 s before the strategy ("before") and while it ran
("during"), under the app load described above.

Per run (batches and batch times, and the machine's load average when the strategy started):

${mdTable([RUN_HEADER, ...results.strategies.map(runCells)])}

${notes(results)
  .map((n) => `- ${md(n)}`)
  .join('\n')}

${(() => {
  const rows = pgshiftRows(results);
  return rows.length
    ? `Where pgshift's time went, per run, from the engine's own phase result (\`details.tasks\`): "outside the task" is the wall time of \`advance --to backfill\` less the engine's task time (start-up, planning, the phase's bookkeeping and the final steps).\n\n${mdTable(rows)}\n`
    : '';
})()}
Batch times: for (a) the single statement; for (b) one page (SELECT + 1000 UPDATEs); for (c) and (f) one UPDATE statement;
for (d) and (e) as the engine reports them (\`details.tasks[…].batchMs\`), else the \`lastBatchMs\` of its progress events.
"time" is the wall time of the whole backfill (for (d) and (e), of \`advance --to backfill\`); rows/s is the table's rows
divided by it. Peak RSS is \`process.resourceUsage().maxRSS\` of the child process that ran pgshift (Node and tsx included).
The machine is shared with other work (its load average is given above and per run): read differences of a few percent
with the spread in mind.

${
  t && 'ratioP50' in t
    ? `Dual-write trigger overhead (${t.updatesPerSide} UPDATEs per side): without p50 ${fmtMs(t.withoutTriggerMs.p50)} ms, p99 ${fmtMs(t.withoutTriggerMs.p99)} ms; ` +
      `with p50 ${fmtMs(t.withTriggerMs.p50)} ms, p99 ${fmtMs(t.withTriggerMs.p99)} ms (ratio p50 ${fmtRatio(t.ratioP50)}, p99 ${fmtRatio(t.ratioP99)}). ` +
      "Each UPDATE is its own transaction, so its latency includes the commit's WAL flush."
    : 'Dual-write trigger overhead: not measured in this run.'
}

### Targets

${mdTable(targetRows(results), false)}

${standbyLagSection(standbyLag)}"n/a" means the measurement is missing from this run: a strategy not run or failed, or a figure the engine does not report.
`;
}
