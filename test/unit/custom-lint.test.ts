import { describe, expect, test } from 'vitest';
import { checkDefinitionProvesNotNull, LINT_RULES, lintStatements, type Condition } from '../../src/sql/lint.js';
import { splitStatements } from '../../src/sql/statements.js';

/** The findings of `sql` (expand of one operation) as `rule → condition kind`, in order. */
function lint(sql: string | string[]) {
  const statements = splitStatements('expand', sql);
  const result = lintStatements(statements);
  return statements.flatMap((s) => (result.findings.get(s) ?? []).map((f) => ({ statement: s.label, rule: f.rule, when: f.when })));
}

const existing = (name: string, schema: string | null = null): Condition => ({ kind: 'existing', relations: [{ schema, name }] });

describe('raw SQL lint: each rule refuses its statement and lets the safe form through', () => {
  test.each<[string, string, string, Condition['kind']]>([
    ['create-index', 'CREATE INDEX i ON items (a)', 'CREATE INDEX CONCURRENTLY i ON items (a)', 'existing'],
    ['drop-index', 'DROP INDEX items_a', 'DROP INDEX CONCURRENTLY items_a', 'existing'],
    [
      'add-column-rewrite',
      'ALTER TABLE items ADD COLUMN b timestamptz DEFAULT clock_timestamp()',
      'ALTER TABLE items ADD COLUMN b timestamptz',
      'rewrites',
    ],
    ['alter-type-rewrite', 'ALTER TABLE items ALTER COLUMN a TYPE bigint', 'ALTER TABLE items ALTER COLUMN a SET DEFAULT 0', 'rewrites'],
    [
      'set-not-null',
      'ALTER TABLE items ALTER COLUMN a SET NOT NULL',
      'ALTER TABLE items ADD CONSTRAINT a_nn CHECK (a IS NOT NULL) NOT VALID; ALTER TABLE items VALIDATE CONSTRAINT a_nn; ALTER TABLE items ALTER COLUMN a SET NOT NULL',
      'notNull',
    ],
    [
      'constraint-not-valid',
      'ALTER TABLE items ADD CONSTRAINT pos CHECK (a > 0)',
      'ALTER TABLE items ADD CONSTRAINT pos CHECK (a > 0) NOT VALID',
      'existing',
    ],
    [
      'constraint-not-valid',
      'ALTER TABLE items ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES users',
      'ALTER TABLE items ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES users NOT VALID',
      'existing',
    ],
    [
      'index-constraint',
      'ALTER TABLE items ADD PRIMARY KEY (id)',
      'ALTER TABLE items ADD CONSTRAINT items_pkey PRIMARY KEY USING INDEX items_id',
      'existing',
    ],
    [
      'index-constraint',
      'ALTER TABLE items ADD UNIQUE (code)',
      'ALTER TABLE items ADD CONSTRAINT items_code UNIQUE USING INDEX items_code_idx',
      'existing',
    ],
    ['vacuum-full', 'VACUUM FULL items', 'VACUUM (ANALYZE) items', 'existing'],
    ['cluster', 'CLUSTER items USING items_pkey', 'ANALYZE items', 'existing'],
    ['reindex', 'REINDEX INDEX items_a', 'REINDEX INDEX CONCURRENTLY items_a', 'existing'],
    ['lock-table', 'LOCK TABLE items', 'LOCK TABLE items IN ROW EXCLUSIVE MODE', 'existing'],
    ['refresh-materialized-view', 'REFRESH MATERIALIZED VIEW totals', 'REFRESH MATERIALIZED VIEW CONCURRENTLY totals', 'existing'],
    ['set-tablespace', 'ALTER TABLE items SET TABLESPACE fast', 'ALTER TABLE items SET (fillfactor = 90)', 'existing'],
    ['rewrite-table', 'ALTER TABLE items SET UNLOGGED', 'ALTER TABLE items SET (autovacuum_enabled = off)', 'existing'],
    ['truncate', 'TRUNCATE items', 'CREATE TABLE scratch (a int); TRUNCATE scratch', 'existing'],
    ['update-delete', 'UPDATE items SET a = 1', 'CREATE TABLE scratch (a int); UPDATE scratch SET a = 1', 'existing'],
    ['opaque-code', `DO $$ BEGIN PERFORM 1; END $$`, 'CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$', 'always'],
    ['drop-database', 'DROP DATABASE app', 'DROP VIEW IF EXISTS app_summary', 'always'],
    ['drop-schema', 'DROP SCHEMA reporting CASCADE', 'CREATE SCHEMA scratch; DROP SCHEMA scratch', 'always'],
    ['drop-table', 'DROP TABLE items', 'CREATE TABLE scratch (a int); DROP TABLE scratch', 'existing'],
    ['drop-column', 'ALTER TABLE items DROP COLUMN a', 'ALTER TABLE items ALTER COLUMN a DROP DEFAULT', 'existing'],
    ['add-required-column', 'ALTER TABLE items ADD COLUMN b int NOT NULL', 'ALTER TABLE items ADD COLUMN b int', 'existing'],
    [
      'create-table-references',
      'CREATE TABLE notes (id int, item int REFERENCES items)',
      'CREATE TABLE notes (id int PRIMARY KEY, parent int REFERENCES notes)',
      'existing',
    ],
    ['drop-not-null', 'ALTER TABLE items ALTER COLUMN a DROP NOT NULL', 'ALTER TABLE items ALTER COLUMN a SET DEFAULT 1', 'existing'],
    ['rename-column', 'ALTER TABLE items RENAME COLUMN a TO b', 'ALTER INDEX items_a RENAME TO items_a_idx', 'existing'],
    [
      'rename-table',
      'ALTER TABLE items RENAME TO goods',
      'CREATE TABLE scratch (a int); ALTER TABLE scratch RENAME TO scratch2',
      'existing',
    ],
    ['enum-value-ordering', "ALTER TYPE status ADD VALUE 'pending'", "ALTER TYPE status ADD VALUE 'pending' BEFORE 'approved'", 'always'],
    [
      'domain-constraint',
      'ALTER DOMAIN price ADD CONSTRAINT positive CHECK (VALUE > 0)',
      'ALTER DOMAIN price ADD CONSTRAINT positive CHECK (VALUE > 0) NOT VALID',
      'always',
    ],
    [
      'detach-partition',
      'ALTER TABLE events DETACH PARTITION events_2020',
      'ALTER TABLE events DETACH PARTITION events_2020 CONCURRENTLY',
      'existing',
    ],
    ['identifier-too-long', `CREATE TABLE ${'t'.repeat(64)} (a int)`, `CREATE TABLE ${'t'.repeat(63)} (a int)`, 'always'],
  ])('%s: %s', (rule, refused, safe, when) => {
    const found = lint(refused);
    expect(found.map((f) => f.rule)).toEqual([rule]);
    expect(found[0]!.when.kind).toBe(when);
    expect(lint(safe)).toEqual([]);
  });

  test('every rule has a case above, a reason and an alternative', () => {
    for (const rule of LINT_RULES) {
      expect(rule.why.length, rule.id).toBeGreaterThan(20);
      expect(rule.alternative.length, rule.id).toBeGreaterThan(10);
    }
  });

  test('drop-table, drop-column and drop-not-null belong to contract and rollback: there they pass', () => {
    for (const field of ['contract', 'rollback']) {
      const statements = splitStatements(field, 'DROP TABLE items; ALTER TABLE items DROP COLUMN a, ALTER COLUMN b DROP NOT NULL');
      expect([...lintStatements(statements).findings.values()].flat()).toEqual([]);
    }
  });

  test('an identifier of 63 bytes counted in UTF-8 (not characters) is the limit, quoted or not', () => {
    expect(lint(`CREATE TABLE "${'é'.repeat(32)}" (a int)`).map((f) => f.rule)).toEqual(['identifier-too-long']);
    expect(lint(`CREATE TABLE "${'é'.repeat(31)}x" (a int)`)).toEqual([]);
  });

  test('statements on a table the operation creates first are exempt, wherever the name is qualified', () => {
    expect(
      lint([
        'CREATE TABLE "Weird""Quote" (a int)',
        'CREATE INDEX i ON public."Weird""Quote" (a); ALTER TABLE "Weird""Quote" ALTER COLUMN a TYPE bigint, ADD CONSTRAINT c CHECK (a > 0)',
      ]),
    ).toEqual([]);
    expect(lint('CREATE TABLE s.t (a int); CREATE INDEX i ON other.t (a)')).toEqual([
      { statement: 'expand #2', rule: 'create-index', when: existing('t', 'other') },
    ]);
  });

  test('a whole-database VACUUM FULL, REINDEX and ALL IN TABLESPACE are refused whatever exists', () => {
    expect(
      lint('VACUUM FULL; REINDEX DATABASE app; ALTER TABLE ALL IN TABLESPACE a SET TABLESPACE b').map((f) => [f.rule, f.when.kind]),
    ).toEqual([
      ['vacuum-full', 'always'],
      ['reindex', 'always'],
      ['set-tablespace', 'always'],
    ]);
  });

  test('columns added with a CHECK or REFERENCES, or PRIMARY KEY, check every row too', () => {
    expect(lint('ALTER TABLE items ADD COLUMN u int REFERENCES users, ADD COLUMN k int UNIQUE').map((f) => f.rule)).toEqual([
      'constraint-not-valid',
      'index-constraint',
    ]);
  });

  test('a NOT VALID check proves nothing until it is validated; the PostgreSQL 18 NOT NULL constraint counts as SET NOT NULL', () => {
    expect(
      lint('ALTER TABLE items ADD CONSTRAINT c CHECK (a IS NOT NULL) NOT VALID; ALTER TABLE items ALTER COLUMN a SET NOT NULL').map(
        (f) => f.rule,
      ),
    ).toEqual(['set-not-null']);
    expect(lint('ALTER TABLE items ADD CONSTRAINT nn NOT NULL a').map((f) => f.rule)).toEqual(['set-not-null']);
    expect(
      lint(
        'ALTER TABLE items ADD CONSTRAINT nn NOT NULL a NOT VALID; ALTER TABLE items VALIDATE CONSTRAINT nn; ALTER TABLE items ALTER COLUMN a SET NOT NULL',
      ),
    ).toEqual([]);
  });

  test('a catalog CHECK proves NOT NULL when one of its AND-ed terms is `column IS NOT NULL`', () => {
    expect(checkDefinitionProvesNotNull('CHECK ((("Weird""Quote" IS NOT NULL) AND (a > 0)))', 'Weird"Quote')).toBe(true);
    expect(checkDefinitionProvesNotNull('CHECK ((("Weird""Quote" IS NOT NULL) OR (a > 0)))', 'Weird"Quote')).toBe(false);
    expect(checkDefinitionProvesNotNull('CHECK ((a IS NOT NULL))', 'b')).toBe(false);
  });

  test('transaction control, session SET and an unnamed CREATE INDEX CONCURRENTLY are problems no override sets aside', () => {
    const statements = splitStatements(
      'contract',
      'BEGIN; SET lock_timeout = 0; SET LOCAL work_mem = 65536; CREATE INDEX CONCURRENTLY ON items (a); COMMIT',
    );
    const { problems } = lintStatements(statements);
    expect([...problems.keys()].map((s) => s.label)).toEqual(['contract #1', 'contract #2', 'contract #4', 'contract #5']);
  });
});

describe('statements, cut by PostgreSQL’s parser', () => {
  test('each statement gets its label, position and exact text; semicolons inside strings and bodies do not split', () => {
    const s = splitStatements('expand', [
      'SELECT 1',
      `  CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT 'a;b' $$;\n  COMMENT ON TABLE "é" IS 'x;y'`,
    ]);
    expect(s.map((x) => [x.label, x.where, x.text])).toEqual([
      ['expand #1', 'expand[0], character 1', 'SELECT 1'],
      ['expand #2', 'expand[1], character 3', `CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT 'a;b' $$`],
      ['expand #3', 'expand[1], character 74', `COMMENT ON TABLE "é" IS 'x;y'`],
    ]);
  });

  test('a syntax error names the string and the character; an empty string is an error, not nothing', () => {
    expect(() => splitStatements('contract', ['SELECT 1', 'ALTER TABLE t DROP'])).toThrow(
      'contract[1]: syntax error at end of input (at character 19)',
    );
    expect(() => splitStatements('rollback', '-- nothing')).toThrow('rollback: holds no SQL statement');
  });
});
