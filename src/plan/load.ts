import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidArgumentError, PlanInvalidError } from '../errors.js';
import { loadParser } from '../sql/parser.js';
import { resolvePgshiftToSelf } from './resolve-self.js';
import { checksumOf } from './checksum.js';
import type { Migration } from './model.js';
import { parseMigration } from './validate.js';

export interface LoadedMigration {
  migration: Migration;
  checksum: string;
  /** File it came from, or `ledger` when only the ledger still has it. */
  source: string;
}

const PLAN_EXTENSIONS = new Set(['.json', '.ts', '.mts', '.cts', '.js', '.mjs', '.cjs']);

/**
 * The plan a module exports: `export default` (or `export const migration`) from an ES module; from
 * CommonJS, `module.exports = …`, or `exports.default` / `exports.migration` as TypeScript compiles
 * an `export` in a CommonJS project (`__esModule` set).
 */
function exportedPlan(mod: Record<string, unknown>): unknown {
  const value = mod.default ?? mod.migration;
  if (value !== null && typeof value === 'object' && (value as { __esModule?: unknown }).__esModule === true) {
    const cjs = value as Record<string, unknown>;
    return cjs.default ?? cjs.migration;
  }
  return value;
}

async function readPlanFile(file: string): Promise<unknown> {
  const ext = path.extname(file);
  if (ext === '.json') {
    const text = await readFile(file, 'utf8');
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new PlanInvalidError(file, [{ path: '', message: `not valid JSON: ${(error as Error).message}` }]);
    }
  }
  let mod: Record<string, unknown>;
  try {
    // tsx loads every module plan: TypeScript compiled in memory, ES module or CommonJS as the
    // extension and the nearest package.json say, and 'pgshift' resolves to this pgshift.
    resolvePgshiftToSelf();
    const { tsImport } = await import('tsx/esm/api');
    mod = (await tsImport(pathToFileURL(file).href, import.meta.url)) as Record<string, unknown>;
  } catch (error) {
    throw new PlanInvalidError(file, [{ path: '', message: `could not be loaded: ${(error as Error).message}` }]);
  }
  const value = exportedPlan(mod);
  if (value === undefined)
    throw new PlanInvalidError(file, [{ path: '', message: 'has no default export (export default defineMigration({...}))' }]);
  return value;
}

export async function loadMigrationFile(file: string): Promise<LoadedMigration> {
  await loadParser();
  const migration = parseMigration(await readPlanFile(file), file);
  return { migration, checksum: checksumOf(migration), source: file };
}

/** Loads every plan in `dir`, ordered by id. Problems in several files are all reported. */
export async function loadMigrations(dir: string): Promise<LoadedMigration[]> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new InvalidArgumentError(`migrations directory ${dir} does not exist (set it with --dir)`);
  const files = (await readdir(dir))
    .filter((f) => PLAN_EXTENSIONS.has(path.extname(f)) && !f.endsWith('.d.ts') && !f.startsWith('.'))
    .sort();
  const loaded: LoadedMigration[] = [];
  const problems: { path: string; message: string }[] = [];
  for (const f of files) {
    try {
      loaded.push(await loadMigrationFile(path.join(dir, f)));
    } catch (error) {
      if (!(error instanceof PlanInvalidError)) throw error;
      for (const p of error.problems) problems.push({ path: `${f}${p.path ? ` ${p.path}` : ''}`, message: p.message });
    }
  }
  const seen = new Map<string, string>();
  for (const l of loaded) {
    const other = seen.get(l.migration.id);
    if (other) problems.push({ path: path.basename(l.source), message: `id ${l.migration.id} is also used by ${path.basename(other)}` });
    seen.set(l.migration.id, l.source);
  }
  if (problems.length) throw new PlanInvalidError(dir, problems);
  return loaded.sort((a, b) => (a.migration.id < b.migration.id ? -1 : a.migration.id > b.migration.id ? 1 : 0));
}
