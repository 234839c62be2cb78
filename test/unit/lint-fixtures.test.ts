import { readFileSync } from 'node:fs';
import path from 'node:path';
import AjvDraft04 from 'ajv-draft-04';
import { describe, expect, test } from 'vitest';
import { lintSources, type LintOptions, type LintReport } from '../../src/lint/engine.js';
import { renderLint } from '../../src/lint/report.js';
import { ROOT } from '../support/cli.js';

const FIXTURES = path.join(ROOT, 'test/fixtures/lint');
// A CommonJS module: under NodeNext its default import is the module object.
const Ajv = AjvDraft04.default;

async function lintFixture(file: string, options: LintOptions = {}): Promise<LintReport> {
  return lintSources([{ name: `test/fixtures/lint/${file}`, text: readFileSync(path.join(FIXTURES, file), 'utf8') }], options);
}

const summary = (r: LintReport) => r.findings.map((f) => [f.rule, f.severity, f.line]);

describe('migration files as tools write them (fixtures written for pgshift)', () => {
  test('Alembic `upgrade head --sql` transcript: its own BEGIN … COMMIT, alembic_version bookkeeping left alone', async () => {
    const r = await lintFixture('alembic/upgrade-head.sql');
    expect(summary(r)).toEqual([
      ['prefer-timestamptz', 'warning', 11],
      ['lock-timeout', 'warning', 22],
      ['create-index', 'error', 24],
      ['lock-held', 'error', 24],
    ]);
    expect(r.findings.find((f) => f.rule === 'lock-held')!.detail).toBe(
      'ACCESS EXCLUSIVE on orders, taken at line 22, is held until COMMIT while this runs',
    );
    expect(r.exitCode).toBe(3);
  });

  test('Prisma migration.sql: required column, blocking unique index, foreign key without NOT VALID', async () => {
    const r = await lintFixture('prisma/20261201120000_orders/migration.sql');
    expect(summary(r)).toEqual([
      ['add-required-column', 'error', 2],
      ['lock-timeout', 'warning', 2],
      ['create-index', 'error', 5],
      ['constraint-not-valid', 'error', 8],
    ]);
    expect(r.findings.find((f) => f.rule === 'create-index')!.safe!.command).toBe(
      'pgshift new create_order_reference_key --recipe createIndex --table Order',
    );
  });

  test('Flyway V1__…sql under --tool flyway (one transaction per file): CONCURRENTLY fails inside it, the suppressed UPDATE is listed with its reason', async () => {
    const r = await lintFixture('flyway/V1__customer_tiers.sql', { assumeTransaction: true });
    expect(summary(r).filter(([, severity]) => severity === 'error')).toEqual([
      ['constraint-not-valid', 'error', 8],
      ['rename-column', 'error', 10],
      ['lock-held', 'error', 13],
      ['concurrently-in-transaction', 'error', 15],
      ['lock-held', 'error', 15],
    ]);
    expect(r.suppressed.map((s) => [s.rule, s.line, s.reason])).toEqual([
      ['update-delete', 13, 'customers holds 300 rows in every environment'],
    ]);
    const plain = await lintFixture('flyway/V1__customer_tiers.sql');
    expect(plain.findings.map((f) => f.rule)).not.toContain('concurrently-in-transaction');
  });
});

describe('output formats', () => {
  test('SARIF output validates against the SARIF 2.1.0 JSON schema', async () => {
    const schema = JSON.parse(
      readFileSync(path.join(ROOT, 'node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json'), 'utf8'),
    );
    const validate = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false }).compile(schema);
    const reports = [
      await lintFixture('alembic/upgrade-head.sql'),
      await lintFixture('flyway/V1__customer_tiers.sql'),
      await lintSources([{ name: '-', text: 'SELEC 1;' }]),
    ];
    for (const report of reports) {
      const log = JSON.parse(renderLint(report, 'sarif', new Map()));
      expect(validate(log), JSON.stringify(validate.errors)).toBe(true);
      expect(log.runs[0].results).toHaveLength(report.findings.length);
    }
    // Compiling the 136 kB schema takes seconds on a loaded machine.
  }, 60_000);

  test('GitHub annotations escape what the workflow command syntax reserves', async () => {
    const r = await lintSources([{ name: 'db/a,b:c.sql', text: 'TRUNCATE items;' }]);
    const lines = renderLint(r, 'github', new Map()).split('\n');
    expect(lines.find((l) => l.startsWith('::error'))).toMatch(
      /^::error file=db\/a%2Cb%3Ac\.sql,line=1,col=1,endLine=1,endColumn=15,title=pgshift lint%3A truncate::TRUNCATE\. Why: /,
    );
    expect(lines.filter((l) => l.startsWith('::'))).toHaveLength(r.findings.length);
  });

  test('GitLab code quality: one issue per finding with a stable fingerprint and the path and line', async () => {
    const r = await lintFixture('prisma/20261201120000_orders/migration.sql');
    const issues = JSON.parse(renderLint(r, 'gitlab', new Map())) as {
      check_name: string;
      severity: string;
      fingerprint: string;
      location: { path: string; lines: { begin: number } };
    }[];
    expect(issues.map((i) => [i.check_name, i.severity, i.location.lines.begin])).toEqual(
      r.findings.map((f) => [f.rule, f.severity === 'error' ? 'critical' : 'minor', f.line]),
    );
    expect(new Set(issues.map((i) => i.fingerprint)).size).toBe(issues.length);
    expect(
      JSON.parse(renderLint(await lintFixture('prisma/20261201120000_orders/migration.sql'), 'gitlab', new Map()))[0].fingerprint,
    ).toBe(issues[0]!.fingerprint);
  });

  test('human output underlines the statement', async () => {
    const text = 'SELECT 1;\n  TRUNCATE items;\n';
    const out = renderLint(await lintSources([{ name: 'm.sql', text }]), 'human', new Map([['m.sql', text]]));
    expect(out).toContain('m.sql:2:3: error[truncate]: TRUNCATE\n  2 |   TRUNCATE items;\n    |   ^^^^^^^^^^^^^^\n');
  });
});
