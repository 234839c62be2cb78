import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cli, ROOT } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { PlanInvalidError } from '../../src/errors.js';
import { loadMigrationFile } from '../../src/plan/load.js';
import { recipeKinds, scaffoldMigration } from '../../src/scaffold.js';

describe('pgshift new', () => {
  const db = useDatabase();
  // Inside the package (gitignored), so a TypeScript plan's `import ... from 'pgshift'` resolves.
  const root = mkdtempSync(path.join(ROOT, '.pgshift-new-'));
  let n = 0;
  const freshDir = () => path.join(root, `d${n++}`);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  beforeAll(async () => {
    await db.query(`CREATE TABLE users (id bigint PRIMARY KEY, email text, "Display Name" text DEFAULT 'x')`);
    await db.query(`CREATE INDEX users_email ON users (email)`);
    await db.query(`CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id))`);
    await db.query(`INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 100) g`);
  });

  test('--recipe setNotNull --table users --column email: the TypeScript file is valid as written, with the catalog facts in comments', async () => {
    const dir = freshDir();
    const r = await cli(['new', 'email_not_null', '--recipe', 'setNotNull', '--table', 'users', '--column', 'email', '--json'], {
      url: db.url,
      dir,
    });
    expect(r.code, r.stderr).toBe(0);
    const result = r.json<{ id: string; file: string; catalog: boolean; placeholders: string[] }>();
    expect(result).toMatchObject({ ok: true, format: 'ts', recipe: 'setNotNull', catalog: true, placeholders: [] });
    expect(result.id).toMatch(/^\d{14}_email_not_null$/);
    expect(result.file).toBe(path.join(dir, `${result.id}.ts`));
    const text = readFileSync(result.file, 'utf8');
    expect(text).toContain(`operations: [{ kind: 'setNotNull', schema: 'public', table: 'users', column: 'email' }]`);
    expect(text).toContain('//   batch key: id (bigint) from primary key users_pkey');
    expect(text).toContain('//   column email: text, nullable');
    expect(text).toContain('index users_email');

    const loaded = await loadMigrationFile(result.file);
    expect(loaded.migration).toMatchObject({ id: result.id, operations: [{ kind: 'setNotNull', table: 'users', column: 'email' }] });
    const plan = await cli(['plan', result.id], { url: db.url, dir });
    expect(plan.code, plan.stderr).toBe(0);
  });

  test('renameColumn as JSON: the key and the old column are filled, <to> is left to fill, and then the plan is valid', async () => {
    const dir = freshDir();
    const r = await cli(
      [
        'new',
        'rename_display_name',
        '--format',
        'json',
        '--recipe',
        'renameColumn',
        '--table',
        'users',
        '--column',
        'Display Name',
        '--json',
      ],
      {
        url: db.url,
        dir,
      },
    );
    expect(r.code, r.stderr).toBe(0);
    const result = r.json<{ id: string; file: string; placeholders: string[]; notes: string[] }>();
    expect(result.placeholders).toEqual(['to']);
    expect(result.notes).toContain(`column Display Name: text, nullable, DEFAULT 'x'::text`);
    const plan = JSON.parse(readFileSync(result.file, 'utf8'));
    expect(plan).toMatchObject({
      id: result.id,
      operations: [{ kind: 'renameColumn', schema: 'public', table: 'users', from: 'Display Name', to: '<to>' }],
    });
    expect(plan.description).toContain('batch key: id (bigint)');

    const unfilled = await cli(['plan', result.id, '--json'], { url: db.url, dir });
    expect(unfilled.code).toBe(2);
    expect(unfilled.json()).toMatchObject({
      error: 'plan_invalid',
      problems: [
        { path: `${path.basename(result.file)} operations[0].to`, message: '<to> is a placeholder left by pgshift new: fill it in' },
      ],
    });
    plan.operations[0].to = 'display_name';
    writeFileSync(result.file, JSON.stringify(plan));
    const filled = await cli(['plan', result.id], { url: db.url, dir });
    expect(filled.code, filled.stderr).toBe(0);
  });

  test('what hangs on the column is listed: a foreign key out, and the one into the referenced key', async () => {
    const out = await cli(['new', 'drop_user_id', '--recipe', 'dropColumn', '--table', 'orders', '--column', 'user_id', '--json'], {
      url: db.url,
      dir: freshDir(),
    });
    expect(out.code, out.stderr).toBe(0);
    expect(out.json<{ notes: string[] }>().notes).toContain(
      'on user_id, to carry over (an operation that replaces the column refuses what it cannot carry): constraint orders_user_id_fkey on table orders',
    );
    const into = await cli(['new', 'users_id', '--recipe', 'dropColumn', '--table', 'users', '--column', 'id', '--json'], {
      url: db.url,
      dir: freshDir(),
    });
    expect(into.json<{ notes: string[] }>().notes.join('\n')).toMatch(
      /on id, to carry over .*constraint orders_user_id_fkey on table orders/,
    );
  });

  test('an unknown table or column exits 2 naming it, and writes nothing', async () => {
    const dir = freshDir();
    const table = await cli(['new', 'x', '--recipe', 'setNotNull', '--table', 'nope', '--column', 'email', '--json'], { url: db.url, dir });
    expect(table.code).toBe(2);
    expect(table.stderr).toContain('table public.nope does not exist');
    expect(table.json()).toMatchObject({ error: 'invalid_argument', message: 'table public.nope does not exist' });
    const column = await cli(['new', 'x', '--recipe', 'dropColumn', '--table', 'users', '--column', 'nope'], { url: db.url, dir });
    expect(column.code).toBe(2);
    expect(column.stderr).toContain('column nope does not exist in users');
    const exists = await cli(['new', 'x', '--recipe', 'addColumn', '--table', 'users', '--column', 'email'], { url: db.url, dir });
    expect(exists.code).toBe(2);
    expect(exists.stderr).toContain('column email already exists in users');
    expect(readdirSync(dir)).toEqual([]);
  });

  // Rules across fields (custom needs one of several optional fields) are reported at the operation itself.
  test('every registered operation kind scaffolds a file that loads; validation problems, if any, are only at its placeholders', async () => {
    const dir = freshDir();
    expect(recipeKinds()).toEqual(
      expect.arrayContaining(['renameColumn', 'dropColumn', 'createIndex', 'setNotNull', 'addColumn', 'createTable']),
    );
    for (const kind of recipeKinds()) {
      const r = await cli(['new', `k_${kind}`, '--recipe', kind, '--table', kind === 'createTable' ? 'fresh' : 'users', '--json'], {
        url: db.url,
        dir,
      });
      expect(r.code, `${kind}: ${r.stderr}`).toBe(0);
      const { file, placeholders } = r.json<{ file: string; placeholders: string[] }>();
      try {
        await loadMigrationFile(file);
      } catch (error) {
        expect(error, kind).toBeInstanceOf(PlanInvalidError);
        for (const p of (error as PlanInvalidError).problems)
          expect(['operations[0]', ...placeholders.map((f) => `operations[0].${f}`)], `${kind}: ${p.path} ${p.message}`).toContain(
            p.path.replace(/(\.\w+)\[\d+\]$/, '$1'),
          );
      }
    }
  });

  test('an existing plan of the same id is not overwritten', async () => {
    const dir = freshDir();
    const now = new Date('2026-12-01T10:00:00Z');
    const first = await scaffoldMigration({ name: 'twice', dir, now });
    expect(first.id).toBe('20261201100000_twice');
    await expect(scaffoldMigration({ name: 'twice', dir, now, format: 'json' })).rejects.toThrow(
      /20261201100000_twice\.ts already exists; not overwritten/,
    );
    expect(readFileSync(first.file, 'utf8')).toContain(`id: '20261201100000_twice'`);
  });
});
