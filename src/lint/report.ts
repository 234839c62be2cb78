import { createHash } from 'node:crypto';
import { VERSION } from '../version.js';
import type { LintFinding, LintReport } from './engine.js';
import { RULES } from './rules.js';

export const LINT_FORMATS = ['human', 'json', 'sarif', 'github', 'gitlab'] as const;
export type LintFormat = (typeof LINT_FORMATS)[number];

const SHOWN_LINES = 6;
const UNSUPPRESSIBLE: readonly string[] = ['syntax-error', 'invalid-suppression', 'unused-suppression'];

/** The statement's lines with line numbers, each underlined where the statement runs. */
function underlined(f: LintFinding, source: string | undefined): string[] {
  if (!source) return [];
  const lines = source.split('\n');
  const last = Math.min(f.endLine, f.line + SHOWN_LINES - 1);
  const width = String(last).length;
  const out: string[] = [];
  for (let n = f.line; n <= last; n += 1) {
    const text = (lines[n - 1] ?? '').replace(/\t/g, ' ');
    const from = n === f.line ? f.column - 1 : text.length - text.trimStart().length;
    const to = n === f.endLine ? f.endColumn - 1 : text.length;
    out.push(`  ${String(n).padStart(width)} | ${text}`);
    if (to > from) out.push(`  ${' '.repeat(width)} | ${' '.repeat(from)}${'^'.repeat(to - from)}`);
  }
  if (last < f.endLine) out.push(`  ${' '.repeat(width)} | … (${f.endLine - last} more line(s))`);
  return out;
}

function human(report: LintReport, sources: ReadonlyMap<string, string>): string {
  const out: string[] = [];
  for (const f of report.findings) {
    out.push(`${f.file}:${f.line}:${f.column}: ${f.severity}[${f.rule}]: ${f.detail}`);
    out.push(...underlined(f, sources.get(f.file)));
    out.push(`  why: ${f.why}`);
    out.push(`  instead: ${f.alternative}`);
    if (f.safe) {
      out.push(`  with pgshift: ${f.safe.command}`);
      out.push(`    operation: ${JSON.stringify(f.safe.operation)}`);
    }
    if (f.table) out.push(`  catalog: ${f.table.name} is ${f.table.bytes} bytes`);
    if (f.assumed) out.push(`  assumed: ${f.assumed}`);
    if (!UNSUPPRESSIBLE.includes(f.rule)) out.push(`  to allow it: -- pgshift-lint: allow ${f.rule} <reason>`);
    out.push('');
  }
  for (const s of report.suppressed) out.push(`${s.file}:${s.line}:${s.column}: allowed ${s.rule}: ${s.reason}`);
  const files = report.files.length;
  out.push(
    `${files} file(s), ${report.files.reduce((n, f) => n + f.statements, 0)} statement(s): ${report.errors} error(s), ${report.warnings} warning(s)${report.suppressed.length ? `, ${report.suppressed.length} allowed` : ''}` +
      (report.catalog ? '' : '; no --database-url: tables are taken to exist and be big unless the file creates them'),
  );
  return out.join('\n');
}

function message(f: LintFinding): string {
  return [
    `${f.detail}.`,
    `Why: ${f.why}.`,
    `Instead: ${f.alternative}.`,
    ...(f.safe ? [`With pgshift: ${f.safe.command} (operation ${JSON.stringify(f.safe.operation)})`] : []),
    ...(f.assumed ? [`Assumed: ${f.assumed}.`] : []),
  ].join(' ');
}

/** SARIF 2.1.0, as GitHub code scanning reads it. */
export function sarif(report: LintReport): unknown {
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'pgshift-lint',
            version: VERSION,
            rules: RULES.map((r) => ({
              id: r.id,
              shortDescription: { text: r.refuses },
              fullDescription: { text: r.why },
              help: { text: r.alternative },
              defaultConfiguration: { level: r.weight === 'advice' ? 'warning' : 'error' },
              properties: { squawk: [...r.squawk] },
            })),
          },
        },
        results: report.findings.map((f) => ({
          ruleId: f.rule,
          ruleIndex: RULES.findIndex((r) => r.id === f.rule),
          level: f.severity,
          message: { text: message(f) },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: f.file === '-' ? 'stdin' : f.file.replaceAll('\\', '/').replace(/^\.\//, '') },
                region: {
                  startLine: f.line,
                  startColumn: f.column,
                  endLine: f.endLine,
                  endColumn: Math.max(f.endColumn, 1),
                  ...(f.statement ? { snippet: { text: f.statement } } : {}),
                },
              },
            },
          ],
          partialFingerprints: { statement: fingerprint(f) },
        })),
        invocations: [{ executionSuccessful: report.exitCode !== 2 }],
      },
    ],
  };
}

function fingerprint(f: LintFinding): string {
  return createHash('sha256')
    .update(`${f.file}\0${f.rule}\0${f.statement.replace(/\s+/g, ' ')}\0${f.detail}`)
    .digest('hex');
}

function escapeData(s: string): string {
  return s.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A');
}

function escapeProperty(s: string): string {
  return escapeData(s).replaceAll(':', '%3A').replaceAll(',', '%2C');
}

/** GitHub Actions workflow commands: one annotation per finding on the file's lines. */
function github(report: LintReport): string {
  const lines = report.findings.map(
    (f) =>
      `::${f.severity} file=${escapeProperty(f.file)},line=${f.line},col=${f.column},endLine=${f.endLine},endColumn=${f.endColumn},title=${escapeProperty(`pgshift lint: ${f.rule}`)}::${escapeData(message(f))}`,
  );
  lines.push(`pgshift lint: ${report.errors} error(s), ${report.warnings} warning(s) in ${report.files.length} file(s)`);
  return lines.join('\n');
}

/** GitLab code quality report (a JSON array of issues). */
function gitlab(report: LintReport): unknown {
  return report.findings.map((f) => ({
    type: 'issue',
    check_name: f.rule,
    description: `${f.rule}: ${f.detail}`,
    content: { body: message(f) },
    categories: ['Performance'],
    severity: f.severity === 'error' ? 'critical' : 'minor',
    fingerprint: fingerprint(f),
    location: { path: f.file, lines: { begin: f.line, end: f.endLine } },
  }));
}

/** The report in the chosen format; `sources` (file → text) lets the human format underline statements. */
export function renderLint(report: LintReport, format: LintFormat, sources: ReadonlyMap<string, string>): string {
  switch (format) {
    case 'human':
      return human(report, sources);
    case 'json':
      return JSON.stringify({ ok: report.exitCode === 0, ...report }, null, 2);
    case 'sarif':
      return JSON.stringify(sarif(report), null, 2);
    case 'github':
      return github(report);
    case 'gitlab':
      return JSON.stringify(gitlab(report), null, 2);
  }
}
