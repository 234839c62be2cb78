import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROOT } from '../support/cli.js';
import { useDatabase } from '../support/database.js';

// pgshift as a user gets it: the `npm pack` tarball, in a fresh `npm init -y` project (CommonJS)
// and in an ES module one, and plans outside any project.
const run = promisify(execFile);

interface Packed {
  tarball: string;
  dependencies: string[];
}

/** Builds the current sources into a staging copy and packs it there, leaving the checkout's dist/ alone. */
async function pack(stage: string): Promise<Packed> {
  await run(
    process.execPath,
    [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', path.join(stage, 'dist')],
    { cwd: ROOT },
  );
  cpSync(path.join(ROOT, 'package.json'), path.join(stage, 'package.json'));
  cpSync(path.join(ROOT, 'README.md'), path.join(stage, 'README.md'));
  cpSync(path.join(ROOT, 'schemas'), path.join(stage, 'schemas'), { recursive: true });
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', stage], { cwd: stage });
  const [info] = JSON.parse(stdout) as { filename: string }[];
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  return { tarball: path.join(stage, info!.filename), dependencies: Object.keys(manifest.dependencies) };
}

/**
 * Installs the tarball offline: unpacked into node_modules/pgshift, its declared dependencies
 * linked from this checkout's node_modules (no registry). Only declared ones, so an import of an
 * undeclared package fails here as it would for a user.
 */
async function install(project: string, packed: Packed): Promise<void> {
  const target = path.join(project, 'node_modules/pgshift');
  mkdirSync(path.join(target, 'node_modules'), { recursive: true });
  await run('tar', ['xzf', packed.tarball, '-C', target, '--strip-components=1']);
  for (const dep of packed.dependencies) {
    mkdirSync(path.dirname(path.join(target, 'node_modules', dep)), { recursive: true });
    symlinkSync(path.join(ROOT, 'node_modules', dep), path.join(target, 'node_modules', dep));
  }
}

/** One plan of each format, each renaming its own column of `users`. */
function writePlans(dir: string, style: 'esm' | 'cjs'): string[] {
  mkdirSync(dir, { recursive: true });
  const op = (n: string) => `[renameColumn({ table: 'users', from: 'c${n}', to: 'c${n}_new' })]`;
  const esm = (id: string, n: string) =>
    `import { defineMigration, renameColumn } from 'pgshift';\nexport default defineMigration({ id: '${id}', operations: ${op(n)} });\n`;
  const cjs = (id: string, n: string) =>
    `const { defineMigration, renameColumn } = require('pgshift');\nmodule.exports = defineMigration({ id: '${id}', operations: ${op(n)} });\n`;
  const files: Record<string, string> = {
    '01_ts.ts': esm('01_ts', '1'),
    '02_mts.mts': esm('02_mts', '2'),
    '03_cts.cts': esm('03_cts', '3'),
    '04_js.js': style === 'esm' ? esm('04_js', '4') : cjs('04_js', '4'),
    '05_mjs.mjs': esm('05_mjs', '5'),
    '06_cjs.cjs': cjs('06_cjs', '6'),
    '07_json.json': JSON.stringify({ id: '07_json', operations: [{ kind: 'renameColumn', table: 'users', from: 'c7', to: 'c7_new' }] }),
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return Object.keys(files).map((f) => f.replace(/\.[a-z]+$/, ''));
}

const node = (cwd: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  run(process.execPath, args, { cwd, env: { ...process.env, ...env } });

// Each test starts node on the unpacked package: a minute and more on a loaded machine.
describe('the packed package', { timeout: 600_000 }, () => {
  const db = useDatabase();
  const root = mkdtempSync(path.join(os.tmpdir(), 'pgshift-package-'));
  let packed: Packed;
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  beforeAll(async () => {
    packed = await pack(path.join(root, 'stage'));
    await db.query(`CREATE TABLE users (id bigint PRIMARY KEY, ${[1, 2, 3, 4, 5, 6, 7].map((n) => `c${n} text`).join(', ')})`);
    // tsc and npm pack: past the 120 s hook timeout when other suites build at the same time.
  }, 600_000);

  describe.each(['cjs', 'esm'] as const)('in a fresh %s project', (style) => {
    let project: string;
    let ids: string[];

    beforeAll(async () => {
      project = path.join(root, style);
      mkdirSync(project);
      await run('npm', ['init', '-y'], { cwd: project });
      if (style === 'esm') await run('npm', ['pkg', 'set', 'type=module'], { cwd: project });
      await install(project, packed);
      ids = writePlans(path.join(project, 'migrations'), style);
    });

    test('require() and import both load pgshift, with no top-level await on the way', async () => {
      const required = await node(project, ['-e', `const p = require('pgshift'); console.log(typeof p.Pgshift, p.VERSION)`]);
      const imported = await node(project, [
        '--input-type=module',
        '-e',
        `import { Pgshift, VERSION } from 'pgshift'; console.log(typeof Pgshift, VERSION)`,
      ]);
      const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
      expect(required.stdout.trim()).toBe(`function ${version}`);
      expect(imported.stdout.trim()).toBe(`function ${version}`);
      expect(required.stderr).not.toMatch(/ERR_REQUIRE|ExperimentalWarning/);
    });

    test('the JSON Schemas of --json output resolve from the installed package, by require and by import', async () => {
      const viaRequire = await node(project, [
        '-e',
        `const s = require('pgshift/schemas/advance.schema.json'); console.log(s.$id, s.$schema)`,
      ]);
      expect(viaRequire.stdout.trim()).toBe('advance.schema.json https://json-schema.org/draft/2020-12/schema');
      const viaImport = await node(project, [
        '--input-type=module',
        '-e',
        `console.log(import.meta.resolve('pgshift/schemas/error.schema.json'))`,
      ]);
      expect(viaImport.stdout.trim()).toMatch(/node_modules\/pgshift\/schemas\/error\.schema\.json$/);
    });

    test('loadMigrations reads a plan in every format, from require() and from import', async () => {
      const viaRequire = await node(project, [
        '-e',
        `require('pgshift').loadMigrations('migrations').then((l) => console.log(JSON.stringify(l.map((x) => x.migration.id))))`,
      ]);
      const viaImport = await node(project, [
        '--input-type=module',
        '-e',
        `import { loadMigrations } from 'pgshift'; console.log(JSON.stringify((await loadMigrations('migrations')).map((x) => x.migration.id)))`,
      ]);
      expect(JSON.parse(viaRequire.stdout)).toEqual(ids);
      expect(JSON.parse(viaImport.stdout)).toEqual(ids);
    });

    test('the packed bin plans a TypeScript and a JavaScript plan against the database', async () => {
      const bin = path.join(project, 'node_modules/pgshift/dist/src/cli/main.js');
      for (const id of ['01_ts', '04_js']) {
        const { stdout } = await node(project, [bin, 'plan', id, '--json', '--log-level', 'silent'], { DATABASE_URL: db.url });
        const out = JSON.parse(stdout) as { ok: boolean; id: string; phases: { phase: string }[] };
        expect(out).toMatchObject({ ok: true, id });
        expect(out.phases.map((p) => p.phase)).toContain('expand');
      }
    });

    test('pgshift new --format js writes what this project loads (require or import, as its package.json says)', async () => {
      const bin = path.join(project, 'node_modules/pgshift/dist/src/cli/main.js');
      const dir = path.join(project, 'new-plans');
      const { stdout } = await node(
        project,
        [bin, 'new', 'drop_c1', '--format', 'js', '--recipe', 'dropColumn', '--table', 'users', '--column', 'c1', '--dir', dir, '--json'],
        {
          DATABASE_URL: db.url,
        },
      );
      const { file } = JSON.parse(stdout) as { file: string };
      expect(readFileSync(path.resolve(project, file), 'utf8')).toMatch(
        style === 'esm' ? /^import \{ defineMigration \} from 'pgshift';/ : /^const \{ defineMigration \} = require\('pgshift'\);/,
      );
      const loaded = await node(project, [
        '-e',
        `require('pgshift').loadMigrations(${JSON.stringify(dir)}).then((l) => console.log(l[0].migration.operations[0].kind))`,
      ]);
      expect(loaded.stdout.trim()).toBe('dropColumn');
    });
  });

  test("a plan outside any project imports 'pgshift' from the pgshift that loads it", async () => {
    const outside = path.join(root, 'outside');
    const ids = writePlans(path.join(outside, 'migrations'), 'cjs');
    // Nothing there can resolve 'pgshift' on its own.
    await expect(node(outside, ['-e', `require.resolve('pgshift')`])).rejects.toThrow(/Cannot find module 'pgshift'/);
    const loader = path.join(root, 'cjs');
    const { stdout } = await node(loader, [
      '-e',
      `require('pgshift').loadMigrations(${JSON.stringify(path.join(outside, 'migrations'))}).then((l) => console.log(JSON.stringify(l.map((x) => x.migration.id))))`,
    ]);
    expect(JSON.parse(stdout)).toEqual(ids);
    expect(readdirSync(outside)).toEqual(['migrations']);
  });
});
