import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { PgshiftSqlState } from '../../src/errors.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function libraryFiles(): string[] {
  return ['src', 'phases'].flatMap((top) =>
    readdirSync(path.join(ROOT, top), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts'))
      .map((e) => path.join(e.parentPath, e.name)),
  );
}

describe("pgshift's own SQLSTATEs", () => {
  test('each code has one meaning and is a SQLSTATE of class PG, which PostgreSQL does not use', () => {
    const codes = Object.values(PgshiftSqlState);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^PG[0-9A-Z]{3}$/);
  });

  test('no library module spells a code itself: they all come from PgshiftSqlState in src/errors.ts', () => {
    const spelled = libraryFiles()
      .filter((file) => !file.endsWith(path.join('src', 'errors.ts')))
      .filter((file) => /'PG[0-9A-Z]{3}'/.test(readFileSync(file, 'utf8')))
      .map((file) => path.relative(ROOT, file));
    expect(spelled).toEqual([]);
  });
});
