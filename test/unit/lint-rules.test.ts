import { describe, expect, test } from 'vitest';
import { lintSources, type LintOptions } from '../../src/lint/engine.js';
import { RULES, type LintRuleId } from '../../src/lint/rules.js';
import { operationSchema } from '../../src/plan/model.js';

async function lint(text: string, options: LintOptions = {}) {
  return lintSources([{ name: 'm.sql', text }], options);
}

async function rulesOf(text: string, options: LintOptions = {}): Promise<string[]> {
  return (await lint(text, options)).findings.map((f) => f.rule);
}

const CASES: [LintRuleId, string, string][] = [
  ['create-index', 'CREATE INDEX i ON items (a);', 'CREATE INDEX CONCURRENTLY i ON items (a);'],
  ['drop-index', 'DROP INDEX items_a;', 'DROP INDEX CONCURRENTLY items_a;'],
  [
    'add-column-rewrite',
    'ALTER TABLE items ADD COLUMN b uuid DEFAULT gen_random_uuid();',
    'ALTER TABLE items ADD COLUMN b timestamptz DEFAULT now();',
  ],
  ['alter-type-rewrite', 'ALTER TABLE items ALTER COLUMN a TYPE bigint;', 'ALTER TABLE items ALTER COLUMN a SET DEFAULT 0;'],
  [
    'set-not-null',
    'ALTER TABLE items ALTER COLUMN a SET NOT NULL;',
    'ALTER TABLE items ADD CONSTRAINT a_nn CHECK (a IS NOT NULL) NOT VALID; ALTER TABLE items VALIDATE CONSTRAINT a_nn; ALTER TABLE items ALTER COLUMN a SET NOT NULL;',
  ],
  [
    'constraint-not-valid',
    'ALTER TABLE items ADD CONSTRAINT pos CHECK (a > 0);',
    'ALTER TABLE items ADD CONSTRAINT pos CHECK (a > 0) NOT VALID;',
  ],
  [
    'index-constraint',
    'ALTER TABLE items ADD CONSTRAINT items_code UNIQUE (code);',
    'ALTER TABLE items ADD CONSTRAINT items_code UNIQUE USING INDEX items_code_idx;',
  ],
  ['vacuum-full', 'VACUUM FULL items;', 'VACUUM items;'],
  ['cluster', 'CLUSTER items USING items_pkey;', 'ANALYZE items;'],
  ['reindex', 'REINDEX INDEX items_a;', 'REINDEX INDEX CONCURRENTLY items_a;'],
  ['lock-table', 'LOCK TABLE items;', 'LOCK TABLE items IN ROW EXCLUSIVE MODE;'],
  ['refresh-materialized-view', 'REFRESH MATERIALIZED VIEW totals;', 'REFRESH MATERIALIZED VIEW CONCURRENTLY totals;'],
  ['set-tablespace', 'ALTER TABLE items SET TABLESPACE fast;', 'ALTER TABLE items SET (fillfactor = 90);'],
  ['rewrite-table', 'ALTER TABLE items SET UNLOGGED;', 'ALTER TABLE items SET (autovacuum_enabled = off);'],
  ['truncate', 'TRUNCATE items CASCADE;', 'CREATE TABLE scratch (a bigint); TRUNCATE scratch;'],
  ['update-delete', 'UPDATE items SET a = 1;', "UPDATE alembic_version SET version_num = 'b2';"],
  ['drop-database', 'DROP DATABASE app;', 'DROP VIEW app_summary;'],
  ['drop-schema', 'DROP SCHEMA reporting CASCADE;', 'CREATE SCHEMA scratch; DROP SCHEMA scratch;'],
  ['drop-table', 'DROP TABLE items;', 'CREATE TABLE scratch (a bigint); DROP TABLE scratch;'],
  ['drop-column', 'ALTER TABLE items DROP COLUMN a;', 'ALTER TABLE items ALTER COLUMN a DROP DEFAULT;'],
  ['add-required-column', 'ALTER TABLE items ADD COLUMN b bigint NOT NULL;', 'ALTER TABLE items ADD COLUMN b bigint NOT NULL DEFAULT 0;'],
  [
    'create-table-references',
    'CREATE TABLE notes (id bigint, item bigint REFERENCES items (id));',
    'CREATE TABLE notes (id bigint PRIMARY KEY, parent bigint REFERENCES notes (id));',
  ],
  ['drop-not-null', 'ALTER TABLE items ALTER COLUMN a DROP NOT NULL;', 'ALTER TABLE items ALTER COLUMN a SET DEFAULT 1;'],
  ['rename-column', 'ALTER TABLE items RENAME COLUMN a TO b;', 'ALTER INDEX items_a RENAME TO items_a_idx;'],
  ['rename-table', 'ALTER TABLE items RENAME TO goods;', 'CREATE TABLE scratch (a bigint); ALTER TABLE scratch RENAME TO scratch2;'],
  ['enum-value-ordering', "ALTER TYPE status ADD VALUE 'pending';", "ALTER TYPE status ADD VALUE 'pending' BEFORE 'approved';"],
  [
    'domain-constraint',
    'ALTER DOMAIN price ADD CONSTRAINT positive CHECK (VALUE > 0);',
    'ALTER DOMAIN price ADD CONSTRAINT positive CHECK (VALUE > 0) NOT VALID;',
  ],
  ['detach-partition', 'ALTER TABLE events DETACH PARTITION events_2020;', 'ALTER TABLE events DETACH PARTITION events_2020 CONCURRENTLY;'],
  ['identifier-too-long', `CREATE TABLE ${'t'.repeat(64)} (a bigint);`, `CREATE TABLE ${'t'.repeat(63)} (a bigint);`],
  ['opaque-code', 'DO $$ BEGIN PERFORM 1; END $$;', 'CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;'],
  ['syntax-error', 'SELEC 1;', 'SELECT 1;'],
  [
    'concurrently-in-transaction',
    'BEGIN; CREATE INDEX CONCURRENTLY i ON items (a); COMMIT;',
    'BEGIN; COMMIT; CREATE INDEX CONCURRENTLY i ON items (a);',
  ],
  ['transaction-nesting', 'BEGIN; BEGIN; COMMIT;', 'BEGIN; COMMIT; BEGIN; COMMIT;'],
  ['uncommitted-transaction', 'BEGIN; CREATE TABLE users (id bigint);', 'BEGIN; CREATE TABLE users (id bigint); COMMIT;'],
  [
    'lock-held',
    'BEGIN; ALTER TABLE items ADD COLUMN b text; UPDATE items SET b = a::text; COMMIT;',
    'BEGIN; ALTER TABLE items ADD COLUMN b text; COMMIT; UPDATE items SET b = a::text;',
  ],
  ['lock-timeout', 'ALTER TABLE items ADD COLUMN b text;', "SET lock_timeout = '2s'; ALTER TABLE items ADD COLUMN b text;"],
  ['prefer-bigint', 'CREATE TABLE t (id int);', 'CREATE TABLE t (id bigint);'],
  ['prefer-identity', 'CREATE TABLE t (id bigserial);', 'CREATE TABLE t (id bigint GENERATED BY DEFAULT AS IDENTITY);'],
  ['prefer-text', 'CREATE TABLE t (name varchar(100));', 'CREATE TABLE t (name text);'],
  ['prefer-timestamptz', 'CREATE TABLE t (at timestamp);', 'CREATE TABLE t (at timestamptz);'],
  ['char-type', 'CREATE TABLE t (code char(10));', 'CREATE TABLE t (code text);'],
  ['create-domain-constraint', 'CREATE DOMAIN price AS numeric CHECK (VALUE > 0);', 'CREATE DOMAIN price AS numeric;'],
  [
    'unused-suppression',
    '-- pgshift-lint: allow truncate scratch table only we write\nSELECT 1;',
    '-- pgshift-lint: allow truncate scratch table only we write\nTRUNCATE items;',
  ],
  [
    'invalid-suppression',
    '-- pgshift-lint: allow truncate\nTRUNCATE items;',
    '-- pgshift-lint: allow truncate scratch table only we write\nTRUNCATE items;',
  ],
];

describe('pgshift lint: every rule flags its statement and lets the near miss through', () => {
  test.each(CASES)('%s: %s', async (rule, flagged, nearMiss) => {
    expect(await rulesOf(flagged)).toContain(rule);
    expect(await rulesOf(nearMiss)).not.toContain(rule);
  });

  test('every rule has a case above, a reason, an alternative and a weight', () => {
    expect(RULES.map((r) => r.id).filter((id) => !CASES.some(([c]) => c === id))).toEqual([]);
    for (const r of RULES) {
      expect(r.why.length, r.id).toBeGreaterThan(20);
      expect(r.alternative.length, r.id).toBeGreaterThan(10);
      expect(['blocking', 'breaking', 'advice']).toContain(r.weight);
    }
  });
});

describe('transactions', () => {
  test('--assume-transaction (the tool’s own transaction) makes CONCURRENTLY and BEGIN findings without a BEGIN in the file', async () => {
    const sql = 'CREATE INDEX CONCURRENTLY i ON items (a);';
    expect(await rulesOf(sql)).not.toContain('concurrently-in-transaction');
    expect(await rulesOf(sql, { assumeTransaction: true })).toContain('concurrently-in-transaction');
    expect(await rulesOf('BEGIN; COMMIT;', { assumeTransaction: true })).toContain('transaction-nesting');
  });

  test('lock-held names the lock, the table and the line where it was taken', async () => {
    const r = await lint('BEGIN;\nALTER TABLE items ALTER COLUMN a DROP DEFAULT;\nSELECT 1;\nDELETE FROM items WHERE a < 0;\nCOMMIT;\n');
    const held = r.findings.find((f) => f.rule === 'lock-held')!;
    expect(held.line).toBe(4);
    expect(held.detail).toBe('ACCESS EXCLUSIVE on items, taken at line 2, is held until COMMIT while this runs');
  });
});

describe('positions, suppressions, severities and the exit code', () => {
  test('line:col is the first token after leading comments, in characters of the line', async () => {
    const r = await lint("-- über\nSET lock_timeout = '1s';\n  /* é */ TRUNCATE items;\n");
    expect(r.findings.map((f) => [f.rule, f.line, f.column, f.endLine, f.endColumn, f.statement])).toEqual([
      ['truncate', 3, 11, 3, 25, 'TRUNCATE items'],
    ]);
  });

  test('a syntax error names its line and column; the exit code is 2 (unreadable input)', async () => {
    const r = await lint('SELECT 1;\nALTER TABEL items ADD COLUMN b int;\n');
    expect(r.findings.map((f) => [f.rule, f.line, f.column])).toEqual([['syntax-error', 2, 7]]);
    expect(r.exitCode).toBe(2);
  });

  test('a suppression with a reason moves the finding to `suppressed` and applies to the next statement only', async () => {
    const r = await lint(
      "SET lock_timeout = '1s';\n-- pgshift-lint: allow truncate scratch table only this job writes\nTRUNCATE items;\nTRUNCATE items;\n",
    );
    expect(r.suppressed.map((s) => [s.rule, s.line, s.reason])).toEqual([['truncate', 3, 'scratch table only this job writes']]);
    expect(r.findings.map((f) => [f.rule, f.line])).toEqual([['truncate', 4]]);
  });

  test('an unknown rule in a suppression is an error; warnings alone exit 0, an error exits 3', async () => {
    expect((await lint('-- pgshift-lint: allow no-such-rule because\nSELECT 1;')).findings[0]!.detail).toBe('unknown rule "no-such-rule"');
    const warn = await lint('CREATE TABLE t (id int);');
    expect([warn.errors, warn.exitCode]).toEqual([0, 0]);
    expect(warn.warnings).toBeGreaterThan(0);
    expect((await lint('TRUNCATE items;')).exitCode).toBe(3);
  });

  test('without a catalog each finding says what it assumed', async () => {
    const [f] = (await lint('CREATE INDEX i ON items (a);')).findings.filter((x) => x.rule === 'create-index');
    expect(f!.assumed).toContain('items taken to exist and be big (no --database-url');
  });
});

describe('the safe alternative is a pgshift operation filled from the statement, and a valid one', () => {
  test.each<[string, Record<string, unknown>, string]>([
    [
      'CREATE UNIQUE INDEX items_code ON app.items (code) WHERE deleted_at IS NULL;',
      {
        kind: 'createIndex',
        schema: 'app',
        table: 'items',
        name: 'items_code',
        columns: ['code'],
        unique: true,
        where: 'deleted_at IS NULL',
      },
      'pgshift new create_items_code --recipe createIndex --schema app --table items',
    ],
    [
      'ALTER TABLE items ADD COLUMN b numeric(12, 2) NOT NULL;',
      { kind: 'addColumn', table: 'items', column: 'b', type: 'numeric(12, 2)', notNull: true },
      'pgshift new add_b_to_items --recipe addColumn --table items --column b',
    ],
    [
      'ALTER TABLE items ADD COLUMN token uuid DEFAULT gen_random_uuid();',
      { kind: 'addColumn', table: 'items', column: 'token', type: 'uuid', default: 'gen_random_uuid()', notNull: false },
      'pgshift new add_token_to_items --recipe addColumn --table items --column token',
    ],
    [
      'ALTER TABLE items ALTER COLUMN a TYPE bigint USING a::bigint;',
      { kind: 'changeColumnType', table: 'items', column: 'a', type: 'bigint', using: 'a::bigint' },
      'pgshift new change_items_a_type --recipe changeColumnType --table items --column a',
    ],
    [
      'ALTER TABLE items ALTER COLUMN a SET NOT NULL;',
      { kind: 'setNotNull', table: 'items', column: 'a' },
      'pgshift new set_items_a_not_null --recipe setNotNull --table items --column a',
    ],
    [
      'ALTER TABLE items ADD CONSTRAINT pos CHECK (a > 0 AND (b < 3));',
      { kind: 'addCheck', table: 'items', name: 'pos', check: 'a > 0 AND (b < 3)' },
      'pgshift new add_pos --recipe addCheck --table items',
    ],
    [
      'ALTER TABLE orders ADD CONSTRAINT fk_user FOREIGN KEY (user_id) REFERENCES users (id);',
      { kind: 'addForeignKey', table: 'orders', name: 'fk_user', columns: ['user_id'], references: { table: 'users', columns: ['id'] } },
      'pgshift new add_fk_user --recipe addForeignKey --table orders',
    ],
    [
      'ALTER TABLE items ADD CONSTRAINT items_code_key UNIQUE (code);',
      { kind: 'addUnique', table: 'items', name: 'items_code_key', columns: ['code'] },
      'pgshift new add_items_code_key --recipe addUnique --table items',
    ],
    [
      'ALTER TABLE "Order Items" RENAME COLUMN qty TO quantity;',
      { kind: 'renameColumn', table: 'Order Items', from: 'qty', to: 'quantity' },
      "pgshift new rename_order_items_qty --recipe renameColumn --table 'Order Items' --column qty",
    ],
    [
      'ALTER TABLE items DROP COLUMN legacy;',
      { kind: 'dropColumn', table: 'items', column: 'legacy' },
      'pgshift new drop_items_legacy --recipe dropColumn --table items --column legacy',
    ],
    [
      'DROP TABLE app.old_items;',
      { kind: 'dropTable', schema: 'app', table: 'old_items' },
      'pgshift new drop_old_items --recipe dropTable --schema app --table old_items',
    ],
    ['DROP INDEX items_a;', { kind: 'dropIndex', name: 'items_a' }, 'pgshift new drop_items_a --recipe dropIndex'],
  ])('%s', async (sql, operation, command) => {
    const safe = (await lint(sql)).findings.find((f) => f.safe)?.safe;
    expect(safe?.operation).toEqual(operation);
    expect(safe?.command).toBe(command);
    const parsed = operationSchema.safeParse(safe!.operation);
    expect(parsed.error?.issues ?? []).toEqual([]);
  });
});
