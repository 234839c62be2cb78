import { readFile } from 'node:fs/promises';
import type { PGliteOptions } from '@electric-sql/pglite';
import pg from 'pg';
import { SchemaFileError, SchemaFileExtensionError } from '../errors.js';
import type { Queryable } from '../db/queryable.js';
import { ident } from '../sql/ident.js';
import { SqlTextError } from '../sql/parser.js';
import { splitStatements, type Statement } from '../sql/statements.js';

/**
 * A `pg_dump --schema-only` file loaded into PostgreSQL running in this process (PGlite, PostgreSQL
 * compiled to WebAssembly), so that `plan --schema-file` inspects it with the same catalog queries
 * and trial statements as a live database, through node-postgres itself (the same type parsing).
 */
export interface SchemaDatabase {
  db: Queryable;
  /** `server_version` of the in-process PostgreSQL. */
  serverVersion: string;
  close(): Promise<void>;
}

/** Extensions every PostgreSQL has, which PGlite needs no module for. */
const BUILT_IN_EXTENSIONS = new Set(['plpgsql']);

const ROLE_MISSING = '42704';

/**
 * psql meta-commands that pg_dump writes (`\connect`; `\restrict`/`\unrestrict` from the 2025 minor
 * releases on) are not SQL: blanked, so line numbers in errors still match the file.
 */
function blankMetaCommands(text: string): string {
  return text.replace(/^\\[a-z]+\b.*$/gim, '');
}

function lineOf(text: string, statement: Statement): number {
  const before = Buffer.from(text, 'utf8').subarray(0, statement.offset).toString('utf8');
  return before.split('\n').length;
}

function preview(text: string): string {
  const one = text.replace(/\s+/g, ' ');
  return one.length > 160 ? `${one.slice(0, 157)}...` : one;
}

/** The PGlite modules of the extensions the dump creates; every one it lacks is named at once. */
async function extensionModules(file: string, statements: readonly Statement[]): Promise<Record<string, unknown>> {
  const names = statements.filter((s) => s.kind === 'CreateExtensionStmt').map((s) => String(s.node.extname));
  const modules: Record<string, unknown> = {};
  const missing: string[] = [];
  for (const name of names) {
    if (BUILT_IN_EXTENSIONS.has(name)) continue;
    const exportName = name.replace(/-/g, '_');
    try {
      const mod = (await import(`@electric-sql/pglite/contrib/${exportName}`)) as Record<string, unknown>;
      if (!mod[exportName]) throw new Error(`no export ${exportName}`);
      modules[exportName] = mod[exportName];
    } catch {
      missing.push(name);
    }
  }
  if (missing.length) throw new SchemaFileExtensionError(file, missing);
  return modules;
}

/** node-postgres's own error class for PGlite's errors, so that code testing `instanceof pg.DatabaseError` sees one. */
function asDatabaseError(error: unknown): unknown {
  if (error instanceof pg.DatabaseError || !(error instanceof Error) || typeof (error as { code?: unknown }).code !== 'string')
    return error;
  const e = new pg.DatabaseError(error.message, 0, 'error');
  for (const key of [
    'severity',
    'code',
    'detail',
    'hint',
    'position',
    'internalPosition',
    'internalQuery',
    'where',
    'schema',
    'table',
    'column',
    'dataType',
    'constraint',
    'file',
    'line',
    'routine',
  ] as const)
    (e as unknown as Record<string, unknown>)[key] = (error as unknown as Record<string, unknown>)[key];
  return e;
}

function adapter(client: pg.Client): Queryable {
  const query = async (...args: unknown[]) => {
    try {
      return await (client.query as (...a: unknown[]) => Promise<unknown>)(...args);
    } catch (error) {
      throw asDatabaseError(error);
    }
  };
  return { query } as unknown as Queryable;
}

/** Runs one statement of the dump; a role it names that does not exist is created (NOLOGIN) first. */
async function runStatement(db: Queryable, text: string): Promise<void> {
  for (;;) {
    try {
      await db.query(text);
      return;
    } catch (error) {
      const role =
        error instanceof pg.DatabaseError && error.code === ROLE_MISSING
          ? /role "(.+)" does not exist/.exec(error.message)?.[1]
          : undefined;
      if (!role) throw error;
      await db.query(`CREATE ROLE ${ident(role)} NOLOGIN`);
    }
  }
}

/** Reads `file` (pg_dump -s output) and loads it into a new in-process PostgreSQL. */
export async function loadSchemaFile(file: string): Promise<SchemaDatabase> {
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch (error) {
    throw new SchemaFileError(
      file,
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message,
      undefined,
      { cause: error },
    );
  }
  const text = blankMetaCommands(raw);
  if (/^COPY\s.+\sFROM\s+stdin;\s*$/im.test(text))
    throw new SchemaFileError(file, 'it holds table data (COPY ... FROM stdin): give the output of pg_dump --schema-only');
  let statements: Statement[];
  try {
    statements = splitStatements(file, text);
  } catch (error) {
    if (error instanceof SqlTextError)
      throw new SchemaFileError(file, `not SQL that PostgreSQL parses: ${error.message.replace(`${file}: `, '')}`, undefined, {
        cause: error,
      });
    throw error;
  }
  const extensions = await extensionModules(file, statements);

  // Loaded only here: the CLI and `import 'pgshift'` do not pay for the WebAssembly build.
  const { PGlite } = await import('@electric-sql/pglite');
  const { createPgConfig } = await import('@electric-sql/pglite/node-postgres');
  const options: PGliteOptions = { extensions: extensions as PGliteOptions['extensions'] };
  const lite = await PGlite.create(options);
  const client = new pg.Client(createPgConfig(lite) as unknown as pg.ClientConfig);
  const close = async () => {
    await client.end().catch(() => undefined);
    await lite.close();
  };
  try {
    await client.connect();
    const db = adapter(client);
    // A dump that creates the public schema itself (pg_dump of a database where it was dropped and recreated).
    if (statements.some((s) => s.kind === 'CreateSchemaStmt' && s.node.schemaname === 'public'))
      await db.query('DROP SCHEMA public CASCADE');
    for (const s of statements) {
      try {
        await runStatement(db, s.text);
      } catch (error) {
        throw new SchemaFileError(
          file,
          (error as Error).message,
          { number: s.number, line: lineOf(text, s), text: preview(s.text) },
          { cause: error },
        );
      }
    }
    // pg_dump's session settings (an empty search_path among them) must not shape the inspection.
    await db.query('RESET ALL');
    const [row] = (await db.query<{ server_version: string }>('SHOW server_version')).rows;
    return { db, serverVersion: row?.server_version ?? 'unknown', close };
  } catch (error) {
    await close();
    throw error;
  }
}
