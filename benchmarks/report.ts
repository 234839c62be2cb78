import type { BenchResults, StrategyKey, StrategyResult, TargetResult } from './results.js';
import { STRATEGY_DESCRIPTIONS, STRATEGY_KEYS, STRATEGY_LABELS } from './results.js';
import { fmtInt, fmtMs, fmtRatio, fmtSeconds, ratio } from './stats.js';

function byKey(results: BenchResults, key: StrategyKey): StrategyResult | undefined {
  return results.strategies.find((s) => s.key === key && !s.error);
}

/**
 * The issue's targets, each computed from this run's measurements; a missing measurement (a
 * strategy not run, a field the engine does not report yet) gives "n/a", never a guess.
 */
export function computeTargets(results: BenchResults): TargetResult[] {
  const s = (k: StrategyKey) => byKey(results, k);
  const speed = (a: StrategyKey, b: StrategyKey, min: number, note: string | null = null): TargetResult => {
    const value = ratio(s(a)?.rowsPerSecond, s(b)?.rowsPerSecond);
    return {
      id: `${a}/${b}`,
      label: `rows/s (${a}) / (${b})`,
      goal: `≥ ${min}×`,
      measured: value,
      display: fmtRatio(value, 3),
      met: value === null ? null : value >= min,
      note,
    };
  };
  const targets: TargetResult[] = [
    speed('d', 'f', 0.95),
    speed('d', 'a', 1.15),
    speed('e', 'a', 1.6, s('e')?.pgshift && s('e')?.pgshift?.workersReported === null ? 'the engine does not report workers: (e) may have run 1 worker' : null),
    speed('d', 'b', 60, s('b')?.extrapolated ? '(b) extrapolated from its capped run' : null),
    speed('d', 'c', 2),
  ];

  const d = s('d');
  const targetMs = d?.pgshift?.engineSettings?.targetMs;
  const p99 = d?.batchMs?.p99 ?? null;
  targets.push({
    id: 'batch-p99',
    label: 'batch p99 of (d)',
    goal: '≤ 250 ms at a 200 ms target',
    measured: p99,
    display: p99 === null ? 'n/a' : `${fmtMs(p99)} ms`,
    met: p99 === null ? null : p99 <= 250,
    note: [
      d?.batchMsSource ? `batch times from ${d.batchMsSource}` : null,
      `engine targetMs: ${typeof targetMs === 'number' ? `${targetMs} ms` : 'n/a'}`,
    ]
      .filter(Boolean)
      .join('; '),
  });

  const appRatio = d?.app.p99Ratio ?? null;
  targets.push({
    id: 'app-p99',
    label: 'app write p99 during (d) / before',
    goal: '≤ 1.5×',
    measured: appRatio,
    display: appRatio === null ? 'n/a' : `${fmtRatio(appRatio, 3)} (${fmtMs(d?.app.before?.latencyMs.p99)} → ${fmtMs(d?.app.during?.latencyMs.p99)} ms)`,
    met: appRatio === null ? null : appRatio <= 1.5,
    note: null,
  });

  const trigger = results.triggerOverhead && 'ratioP50' in results.triggerOverhead ? results.triggerOverhead : null;
  targets.push({
    id: 'trigger',
    label: 'dual-write trigger: UPDATE p50 with / without',
    goal: '≤ 1.25×',
    measured: trigger?.ratioP50 ?? null,
    display: trigger ? `${fmtRatio(trigger.ratioP50, 3)} (${fmtMs(trigger.withoutTriggerMs.p50)} → ${fmtMs(trigger.withTriggerMs.p50)} ms)` : 'n/a',
    met: trigger?.ratioP50 == null ? null : trigger.ratioP50 <= 1.25,
    note: trigger ? `p99 ratio ${fmtRatio(trigger.ratioP99)}` : null,
  });

  const verifyRatio = d?.pgshift?.verifyRatio ?? null;
  targets.push({
    id: 'verify',
    label: 'verification / backfill time (d)',
    goal: '≤ 0.15×',
    measured: verifyRatio,
    display: verifyRatio === null ? 'n/a' : `${fmtRatio(verifyRatio, 3)} (${fmtSeconds(d?.pgshift?.verifySeconds)} / ${fmtSeconds(d?.seconds)})`,
    met: verifyRatio === null ? null : verifyRatio <= 0.15,
    note: null,
  });
  return targets;
}

const metText = (met: boolean | null) => (met === null ? 'n/a' : met ? 'met' : 'MISSED');

function pair(a: number | null | undefined, b: number | null | undefined): string {
  return a == null && b == null ? 'n/a' : `${fmtMs(a)} / ${fmtMs(b)}`;
}

/** One row of cells per strategy (shared by the terminal and markdown tables). */
function strategyCells(r: StrategyResult): string[] {
  if (r.error) return [r.label, 'failed', '', '', '', '', '', '', '', ''];
  const time = r.seconds === null ? 'n/a' : `${fmtSeconds(r.seconds)}${r.extrapolated ? ' *' : ''}`;
  const rate = r.rowsPerSecond === null ? 'n/a' : `${fmtInt(r.rowsPerSecond)}${r.extrapolated ? ' *' : ''}`;
  const batch = r.batchMs ? `${fmtMs(r.batchMs.p50)} / ${fmtMs(r.batchMs.p99)} / ${fmtMs(r.batchMs.max)}` : 'n/a';
  const unit = r.batches === 1 ? r.batchUnit : r.batchUnit.endsWith('h') ? `${r.batchUnit}es` : `${r.batchUnit}s`;
  const batches = r.batches === null ? 'n/a' : `${fmtInt(r.batches)} ${unit}`;
  const rss = r.pgshift ? (r.pgshift.maxRssMb === null ? 'n/a' : `${r.pgshift.maxRssMb} MB`) : '';
  const verify = r.pgshift
    ? r.pgshift.verifySeconds === null
      ? 'n/a'
      : `${fmtSeconds(r.pgshift.verifySeconds)} (${fmtRatio(r.pgshift.verifyRatio)})`
    : '';
  return [
    r.label,
    rate,
    fmtRatio(r.ratioToA),
    time,
    batches,
    batch,
    pair(r.app.before?.latencyMs.p50, r.app.before?.latencyMs.p99),
    pair(r.app.during?.latencyMs.p50, r.app.during?.latencyMs.p99),
    rss,
    verify,
  ];
}

const HEADER = [
  'strategy',
  'rows/s',
  'vs (a)',
  'time',
  'batches',
  'batch p50 / p99 / max ms',
  'app p50 / p99 before ms',
  'app p50 / p99 during ms',
  'peak RSS',
  'verify (× backfill)',
];

function textTable(rows: string[][]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ').trimEnd())
    .join('\n');
}

/** Markdown-safe cell or line: pipes and asterisks escaped. */
const md = (c: string) => c.replaceAll('|', '\\|').replaceAll('*', '\\*');

function mdTable(rows: string[][], numeric = true): string {
  const [head, ...body] = rows;
  const line = (r: string[]) => `| ${r.map(md).join(' | ')} |`;
  return [line(head ?? []), `|${(head ?? []).map((_, i) => (i === 0 || !numeric ? '---' : '---:')).join('|')}|`, ...body.map(line)].join('\n');
}

function targetRows(results: BenchResults): string[][] {
  return [
    ['target', 'goal', 'measured', 'result', 'note'],
    ...results.targets.map((t) => [t.label, t.goal, t.display, metText(t.met), t.note ?? '']),
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
    `${m.gitUncommittedEngineFiles?.length ? ` + ${m.gitUncommittedEngineFiles.length} uncommitted engine file(s)` : ''}`
  );
}

function notes(results: BenchResults): string[] {
  const out: string[] = [];
  if (results.strategies.some((s) => s.extrapolated))
    out.push(`* extrapolated: (b) stopped at its ${results.options.bCapSeconds} s cap; its total time is rows ÷ (rows done per second in the cap), which is optimistic because OFFSET pages get slower as the offset grows.`);
  for (const s of results.strategies) {
    if (s.error) out.push(`${s.label}: FAILED: ${s.error.split('\n')[0]}`);
    for (const n of s.notes) out.push(`${s.label}: ${n}`);
  }
  return out;
}

/** The terminal report. */
export function renderText(results: BenchResults, file: string | null): string {
  const lines: string[] = [];
  lines.push('', `pgshift backfill benchmark: ${setupLine(results)}`);
  lines.push(
    `app load: ${results.options.appRate} writes/s (${Math.round(results.options.appInsertShare * 100)}% INSERT, the rest single-row UPDATEs), ` +
      `baseline ${results.options.baselineSeconds} s before each strategy; pgshift's dual-write trigger on every table`,
  );
  lines.push('', textTable([HEADER, ...results.strategies.map(strategyCells)]));
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
  const rows = results.strategies.filter((s) => s.rowsPerSecond !== null && !s.error);
  const width = 820;
  const labelW = 250;
  const valueW = 150;
  const barMax = width - labelW - valueW - 20;
  const rowH = 30;
  const top = 56;
  const height = top + rows.length * rowH + 34;
  const max = Math.max(1, ...rows.map((r) => r.rowsPerSecond ?? 0));
  const colour = (k: StrategyKey) => (k === 'd' || k === 'e' ? '#2f7d4f' : k === 'a' ? '#5b6f8f' : '#8a94a6');
  const bars = rows.map((r, i) => {
    const y = top + i * rowH;
    const w = Math.max(1, ((r.rowsPerSecond ?? 0) / max) * barMax);
    const value = `${fmtInt(r.rowsPerSecond)} rows/s${r.extrapolated ? ' (extrapolated)' : ''}`;
    return [
      `  <text x="${labelW - 10}" y="${y + 19}" text-anchor="end">${escapeXml(r.label)}</text>`,
      `  <rect x="${labelW}" y="${y + 5}" width="${w.toFixed(1)}" height="${rowH - 10}" fill="${colour(r.key)}"${r.extrapolated ? ' fill-opacity="0.45" stroke="#555" stroke-dasharray="4 3"' : ''}/>`,
      `  <text x="${(labelW + w + 8).toFixed(1)}" y="${y + 19}">${escapeXml(value)}</text>`,
    ].join('\n');
  });
  const title = `Backfill rows/s, ${fmtInt(results.options.rows)} rows, ${results.options.appRate} app writes/s (higher is better)`;
  const sub = `${results.startedAt.slice(0, 10)} · PostgreSQL ${results.machine.postgres ?? '?'} · ${results.machine.cpus} × ${results.machine.cpuModel} · commit ${results.machine.gitCommit ?? 'n/a'}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="13">`,
    `  <rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `  <text x="12" y="22" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    `  <text x="12" y="42" font-size="11" fill="#555">${escapeXml(sub)}</text>`,
    ...bars,
    `  <line x1="${labelW}" y1="${top}" x2="${labelW}" y2="${top + rows.length * rowH}" stroke="#333"/>`,
    `  <text x="12" y="${height - 10}" font-size="11" fill="#555">Measured by npm run bench; every strategy ran with pgshift's dual-write trigger on the table and the same app load.</text>`,
    '</svg>',
    '',
  ].join('\n');
}

/** docs/benchmarks.md, regenerated from a results file. */
export function renderMarkdown(results: BenchResults, resultsFile: string, svgFile: string): string {
  const t = results.triggerOverhead;
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
npm run bench -- --database-url postgres://user@host/db   # an existing server (a scratch database is created and dropped)
\`\`\`

| Option | Default | |
|---|---|---|
| \`--rows <n>\` | 1,000,000 | Rows in each strategy's table. |
| \`--strategies <list>\` | all | Any of \`a,b,c,d,e,f,f10k,f2\`; \`f\` alone means the whole keyset-loop family (\`f,f10k,f2\`), \`f50k\` only the 50k loop. |
| \`--app-rate <n>\` | 200 | App writes per second during every strategy (and its baseline). |
| \`--database-url <url>\` | embedded | Use this server instead of the embedded PostgreSQL; a scratch database is created there and dropped at the end. |
| \`--out <dir>\` | \`benchmarks/results\` | Where \`<YYYY-MM-DD>-<rows>.json\` is written. |
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

**The dual-write trigger is on the table in every strategy**, (a) and (b) included: in an expand-contract rename, writes
must reach both columns from before the backfill starts until contract, or writes made during the backfill are lost. So
every strategy pays the trigger on its own UPDATEs, as it would in production. For (d) and (e) pgshift installs it
(\`advance --to dual-write\`); for the others the harness runs pgshift's own rendered expand and dual-write steps
(\`renameColumnHandler.steps()\`), so it is the same per-row plpgsql trigger.

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

${mdTable([HEADER, ...results.strategies.map(strategyCells)])}

${notes(results)
  .map((n) => `- ${md(n)}`)
  .join('\n')}

Batch times: for (a) the single statement; for (b) one page (SELECT + 1000 UPDATEs); for (c) and (f) one UPDATE statement;
for (d) and (e) as the engine reports them (\`details.tasks[…].batchMs\`), else the \`lastBatchMs\` of its progress events.
"time" is the wall time of the whole backfill (for (d) and (e), of \`advance --to backfill\`); rows/s is the table's rows
divided by it. Peak RSS is \`process.resourceUsage().maxRSS\` of the child process that ran pgshift (Node and tsx included).
Every figure comes from a single run of each strategy on a shared machine: compare several runs before reading much into
differences of a few percent.

${
  t && 'ratioP50' in t
    ? `Dual-write trigger overhead (${t.updatesPerSide} UPDATEs per side): without p50 ${fmtMs(t.withoutTriggerMs.p50)} ms, p99 ${fmtMs(t.withoutTriggerMs.p99)} ms; ` +
      `with p50 ${fmtMs(t.withTriggerMs.p50)} ms, p99 ${fmtMs(t.withTriggerMs.p99)} ms (ratio p50 ${fmtRatio(t.ratioP50)}, p99 ${fmtRatio(t.ratioP99)}). ` +
      'Each UPDATE is its own transaction, so its latency includes the commit\'s WAL flush.'
    : 'Dual-write trigger overhead: not measured in this run.'
}

### Targets

${mdTable(targetRows(results), false)}

"n/a" means the measurement is missing from this run: a strategy not run or failed, or a figure the engine does not report.
`;
}
