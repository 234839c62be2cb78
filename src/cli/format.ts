import type {
  AdvanceResult,
  BackfillControl,
  BackfillSummary,
  MigrationStatus,
  PhaseRun,
  RenderedPhase,
  StampResult,
  Verification,
} from '../index.js';

const iso = (d: Date | string | null | undefined) => (d ? new Date(d).toISOString().replace('T', ' ').slice(0, 19) : '-');

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function formatAdvance(result: AdvanceResult): string {
  if (!result.migrations.length) return 'Nothing to do.';
  const lines: string[] = [];
  for (const m of result.migrations) {
    if (m.waitingFor) {
      lines.push(`${m.id}: waits for ${m.waitingFor.migration} (both touch ${m.waitingFor.columns.join(', ')}); still ${m.state}`);
      continue;
    }
    if (result.dryRun) {
      lines.push(`${m.id}: would run ${m.wouldRun?.map((p) => p.phase).join(', ')} (now ${m.from})`);
      for (const p of m.wouldRun ?? []) lines.push(formatPhaseSql(p));
      continue;
    }
    for (const r of m.ran) lines.push(`${m.id}: ${r.phase} done in ${r.seconds.toFixed(2)}s`);
    lines.push(`${m.id}: now ${m.state}; ${m.next ? `next: ${m.next}` : 'complete'}`);
  }
  return lines.join('\n');
}

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

function formatBackfill(b: BackfillSummary | null): string {
  if (!b) return '-';
  const parts = [`${b.rowsDone} rows`];
  if (b.percent !== null) parts.push(`${b.percent}%`);
  if (b.finished) parts.push('done');
  else {
    if (b.rowsPerSecond !== null) parts.push(`${b.rowsPerSecond}/s`);
    if (b.etaSeconds !== null) parts.push(`ETA ${duration(b.etaSeconds)}`);
    if (b.holdReason) parts.push(`HELD: ${b.holdReason}`);
    else if (b.control.paused) parts.push('PAUSED');
  }
  return parts.join(' ');
}

export function formatControl(migration: string, c: BackfillControl): string {
  const settings = Object.entries(c.settings).map(([k, v]) => `${k}=${String(v)}`);
  return `${migration}: backfill ${c.paused ? 'PAUSED' : 'running'}; live settings: ${settings.length ? settings.join(', ') : "none (the run's own)"} (version ${c.version}); a running backfill applies this before its next batch`;
}

export function formatStatus(statuses: MigrationStatus[]): string {
  if (!statuses.length) return 'No migrations.';
  const rows = [['MIGRATION', 'STATE', 'NEXT', 'BACKFILL', 'VERIFIED', 'LAST RUN']];
  for (const s of statuses) {
    const backfill = formatBackfill(s.backfillSummary);
    const v = s.verification;
    const verified = v ? `${v.passed ? 'passed' : `FAILED (${v.mismatches})`} ${iso(v.finishedAt)}` : '-';
    const last = s.lastRun ? `${s.lastRun.action} ${s.lastRun.phase} ${s.lastRun.status} ${iso(s.lastRun.startedAt)}` : '-';
    rows.push([
      s.id + (s.checksumMatches === false ? ' (PLAN CHANGED)' : '') + (s.source === 'ledger' ? ' (file missing)' : ''),
      s.stamped.length ? `${s.state} (stamped: ${s.stamped.join(', ')})` : s.state,
      s.next ?? 'complete',
      backfill,
      verified,
      last,
    ]);
  }
  const growth = statuses.flatMap((s) => formatTableGrowth(s.id, s.tableGrowth ?? []));
  return growth.length ? `${table(rows)}\n${growth.join('\n')}` : table(rows);
}

/** `<migration> 0.backfill: table heap ×1.36, indexes ×1.96 after the backfill (5 vacuums during it)`. */
function formatTableGrowth(migration: string, growth: MigrationStatus['tableGrowth']): string[] {
  const x = (n: number | null) => (n === null ? '?' : `×${n}`);
  return growth.map(
    (g) =>
      `${migration} ${g.task}: table heap ${x(g.heapGrowth)}, indexes ${x(g.indexGrowth)} after the backfill (${g.vacuums} vacuum${g.vacuums === 1 ? '' : 's'} during it)` +
      (g.reindexed ? `; indexes ${x(g.indexGrowthAfterReindex)} after REINDEX CONCURRENTLY of ${g.reindexed}` : ''),
  );
}

/** Text cut to at most `max` characters at a word boundary, with `…` when cut. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${space > max / 2 ? cut.slice(0, space) : cut}…`;
}

/** The last column of `history`: the error of a failed run, or what a tune, pause or resume changed. */
function runNote(r: PhaseRun): string {
  if (r.error) return clip(r.error.split('\n')[0]!, 100);
  if (r.action === 'tune') {
    const settings = (r.details.settings ?? {}) as Record<string, unknown>;
    return Object.entries(settings)
      .map(([k, v]) => `${k}=${v === null ? 'auto/off' : String(v)}`)
      .join(' ');
  }
  return '';
}

export function formatHistory(runs: PhaseRun[]): string {
  if (!runs.length) return 'No history yet.';
  const rows = [['#', 'MIGRATION', 'ACTION', 'PHASE', 'STATUS', 'STARTED', 'SECONDS', 'BY', 'NOTE']];
  for (const r of runs) {
    const seconds = r.finishedAt ? ((+new Date(r.finishedAt) - +new Date(r.startedAt)) / 1000).toFixed(2) : '-';
    rows.push([
      String(r.id),
      r.migrationId,
      r.action,
      r.phase,
      r.status,
      iso(r.startedAt),
      seconds,
      `${r.host ?? '?'}:${r.pid ?? '?'}`,
      runNote(r),
    ]);
  }
  return table(rows);
}

export function formatStamp(result: StampResult): string {
  const lines: string[] = [];
  for (const p of result.stamped) {
    lines.push(`${result.id}: ${p.phase} stamped done (not run)`);
    for (const n of p.notes) lines.push(`  note: ${n}`);
  }
  lines.push(`${result.id}: now ${result.state}; ${result.next ? `next: ${result.next}` : 'complete'}`);
  return lines.join('\n');
}

export function formatVerifications(results: Verification[]): string {
  if (!results.length) return 'Nothing to verify: no migration has finished its backfill and not yet contracted.';
  return results
    .map((v) =>
      v.passed
        ? `${v.migrationId}: verification passed: ${v.rowsChecked} rows checked, 0 mismatches`
        : `${v.migrationId}: verification FAILED: ${v.mismatches} failure(s) in ${v.rowsChecked} rows checked (rows that do not match, or catalog checks); sample keys: ${JSON.stringify(v.sampleKeys)}`,
    )
    .join('\n');
}

export function formatPlanSummary(id: string, state: string, phases: RenderedPhase[]): string {
  const out = [`${id} (now: ${state}); add --sql for the exact statements`];
  for (const p of phases) {
    out.push(`${p.phase}:`);
    if (!p.statements.length) out.push('  (nothing)');
    for (const s of p.statements)
      out.push(`  [${s.lock}${s.transaction === 'phase' ? '' : `, ${s.transaction} transaction`}] ${s.description}`);
  }
  return out.join('\n');
}

export function formatPhaseSql(p: RenderedPhase): string {
  const out = [`-- ===== ${p.phase} =====`];
  if (!p.statements.length) out.push('-- (nothing)');
  for (const s of p.statements) {
    // A backfill or verify loop prints once, as its runnable template; its other keyset statements are in it.
    if (s.transaction === 'per-batch') {
      if (s.template) out.push(`-- ${s.id.replace(/\.[^.]+$/, '')}: ${s.lock}, one transaction per batch`, `${s.template};`);
      continue;
    }
    out.push(`-- ${s.id}: ${s.description}`);
    out.push(`-- lock: ${s.lock}; transaction: ${s.transaction}${s.skipIf ? '; skipped on rerun when already done' : ''}`);
    out.push(`${s.sql};`);
  }
  return out.join('\n');
}
