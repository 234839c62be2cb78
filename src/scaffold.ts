import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { z } from 'zod';
import { columnDependents, describeRef, findTable, relkindName, type ColumnInfo, type TableInfo } from './catalog/introspect.js';
import { InvalidArgumentError } from './errors.js';
import { MIGRATION_ID_PATTERN } from './plan/model.js';
import { OPERATIONS } from './operations/registry.js';
import { loadParser } from './sql/parser.js';

export const PLAN_FORMATS = ['ts', 'js', 'json'] as const;
export type PlanFormat = (typeof PLAN_FORMATS)[number];

export interface ScaffoldOptions {
  /** The part after the timestamp: `<dir>/<timestamp>_<name>.<format>`, id = file base name. */
  name: string;
  dir: string;
  format?: PlanFormat;
  /** An operation kind; the file gets one operation of it. */
  recipe?: string;
  schema?: string;
  table?: string;
  column?: string;
  /** With it, what the catalog says is filled in (schema, column, key) and noted (types, what hangs on the column). */
  databaseUrl?: string;
  /** For tests: the timestamp of the id. */
  now?: Date;
}

export interface ScaffoldResult {
  id: string;
  file: string;
  format: PlanFormat;
  recipe: string | null;
  /** Whether catalog facts were read (a database was given). */
  catalog: boolean;
  /** Fields left as `<field>` for the user to fill. */
  placeholders: string[];
  /** What the catalog says about the table and column, also written into the file. */
  notes: string[];
}

type FieldSchema = z.ZodType;

/** Every operation kind, from the registry: a kind added there appears here, with the fields of its schema. */
export function recipeKinds(): string[] {
  return OPERATIONS.map((o) => o.kind);
}

function definitionNamed(kind: string): (typeof OPERATIONS)[number] {
  const definition = OPERATIONS.find((o) => o.kind === kind);
  if (!definition) throw new InvalidArgumentError(`unknown recipe ${JSON.stringify(kind)} (operations: ${recipeKinds().join(', ')})`);
  return definition;
}

function fieldsOf(kind: string): Record<string, FieldSchema> {
  return definitionNamed(kind).schema.shape as unknown as Record<string, FieldSchema>;
}

/** What the operation creates, which must not exist yet (its `scaffoldCreates` hook). */
function scaffoldCreatesOf(kind: string): 'table' | 'column' | undefined {
  const definition = definitionNamed(kind);
  return 'scaffoldCreates' in definition ? definition.scaffoldCreates : undefined;
}

/** `<field>`, in the shape the field takes (a string, or a list of one). */
function placeholder(name: string, field: FieldSchema): unknown {
  const text = `<${name}>`;
  if (field.safeParse(text).success) return text;
  if (field.safeParse([text]).success) return [text];
  return text;
}

function timestamp(now: Date): string {
  return now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

function describeColumn(c: ColumnInfo): string {
  const parts = [c.type, c.notNull ? 'NOT NULL' : 'nullable'];
  if (c.collation) parts.push(`COLLATE ${c.collation.schema}.${c.collation.name}`);
  if (c.defaultExpr !== null) parts.push(`DEFAULT ${c.defaultExpr}`);
  if (c.identity) parts.push(`GENERATED ${c.identity === 'a' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY`);
  if (c.generated) parts.push('GENERATED ALWAYS AS (…) STORED');
  if (c.hasColumnPrivileges) parts.push('column-level privileges');
  if (c.comment !== null) parts.push(`comment ${JSON.stringify(c.comment)}`);
  return parts.join(', ');
}

async function catalogNotes(db: pg.Client, table: TableInfo, column: ColumnInfo | null): Promise<string[]> {
  const where = describeRef(table);
  const notes = [`table ${table.schema}.${table.name}: ${relkindName(table.relkind)}, ${table.columns.length} column(s)`];
  notes.push(
    table.key
      ? `batch key: ${table.key.columns.map((k) => `${k.name} (${k.type})`).join(', ')} from ${table.key.kind} ${table.key.source}`
      : `no batch key: ${where} has no primary key or unique index over NOT NULL columns; operations that backfill or verify rows refuse it`,
  );
  if (table.hasInheritanceChildren) notes.push(`${where} has inheritance children`);
  if (column) {
    notes.push(`column ${column.name}: ${describeColumn(column)}`);
    const dependents = await columnDependents(db, table.oid, column.attnum);
    notes.push(
      dependents.length
        ? `on ${column.name}, to carry over (an operation that replaces the column refuses what it cannot carry): ${dependents.join('; ')}`
        : `nothing depends on ${column.name} (no index, constraint, foreign key in or out, view, trigger or policy)`,
    );
  }
  return notes;
}

/** Field values the catalog and the options give; the rest of the required fields become placeholders. */
async function fillOperation(
  kind: string,
  options: ScaffoldOptions,
  db: pg.Client | null,
): Promise<{ operation: Record<string, unknown>; placeholders: string[]; notes: string[] }> {
  const fields = fieldsOf(kind);
  const given: Record<string, unknown> = {};
  const notes: string[] = [];
  const schema = options.schema ?? 'public';
  if (options.table !== undefined) {
    given.schema = schema;
    given.table = options.table;
  }
  if (options.column !== undefined) {
    if ('from' in fields) given.from = options.column;
    else if ('column' in fields) given.column = options.column;
    else if ('columns' in fields) given.columns = [options.column];
    else
      throw new InvalidArgumentError(
        `--column does not apply to ${kind} (its fields: ${Object.keys(fields)
          .filter((f) => f !== 'kind')
          .join(', ')})`,
      );
  }
  if (db && options.table !== undefined) {
    const ref = { schema, name: options.table };
    const table = await findTable(db, ref);
    // An operation that creates its table names one that must not exist yet; every other names one that must.
    const creates = scaffoldCreatesOf(kind);
    if (creates === 'table') {
      if (table) throw new InvalidArgumentError(`${relkindName(table.relkind)} ${schema}.${options.table} already exists`);
    } else {
      if (!table) throw new InvalidArgumentError(`table ${schema}.${options.table} does not exist`);
      const column = options.column === undefined ? null : (table.columns.find((c) => c.name === options.column) ?? null);
      if (options.column !== undefined && !column && creates !== 'column')
        throw new InvalidArgumentError(`column ${options.column} does not exist in ${describeRef(table)}`);
      if (column && creates === 'column')
        throw new InvalidArgumentError(`column ${options.column} already exists in ${describeRef(table)}`);
      notes.push(...(await catalogNotes(db, table, column)));
    }
  }
  const operation: Record<string, unknown> = { kind };
  const placeholders: string[] = [];
  for (const [name, field] of Object.entries(fields)) {
    if (name === 'kind') continue;
    if (name in given) operation[name] = given[name];
    else if (name === 'schema') operation.schema = schema;
    else if (!field.safeParse(undefined).success) {
      operation[name] = placeholder(name, field);
      placeholders.push(name);
    }
  }
  return { operation, placeholders, notes };
}

function tsKey(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key);
}

function tsValue(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(tsValue).join(', ')}]`;
  if (value && typeof value === 'object')
    return `{ ${Object.entries(value)
      .map(([k, v]) => `${tsKey(k)}: ${tsValue(v)}`)
      .join(', ')} }`;
  return typeof value === 'string' ? `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : JSON.stringify(value);
}

/**
 * Operations as plain objects with their `kind` rather than through a builder: defineMigration's
 * type checks them just the same, and a kind whose builder is not exported yet works too.
 */
function renderModule(
  id: string,
  description: string,
  operation: Record<string, unknown> | null,
  comments: string[],
  style: 'esm' | 'cjs',
): string {
  const op = operation ? tsValue(operation) : null;
  return [
    style === 'esm' ? `import { defineMigration } from 'pgshift';` : `const { defineMigration } = require('pgshift');`,
    '',
    ...comments.map((c) => `// ${c}`),
    ...(comments.length ? [''] : []),
    style === 'esm' ? 'export default defineMigration({' : 'module.exports = defineMigration({',
    `  id: ${tsValue(id)},`,
    `  description: ${tsValue(description)},`,
    op ? `  operations: [${op}],` : `  operations: [],`,
    '});',
    '',
  ].join('\n');
}

/**
 * Whether a `.js` file in `dir` is an ES module: the `type` of the nearest package.json, as Node
 * decides it (CommonJS without one).
 */
async function jsIsEsm(dir: string): Promise<boolean> {
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    const text = await readFile(path.join(at, 'package.json'), 'utf8').catch(() => null);
    if (text !== null) {
      try {
        return (JSON.parse(text) as { type?: unknown }).type === 'module';
      } catch {
        return false;
      }
    }
    if (path.dirname(at) === at) return false;
  }
}

/** Writes a new plan file; refuses a bad name and an existing plan of the same id. */
export async function scaffoldMigration(options: ScaffoldOptions): Promise<ScaffoldResult> {
  await loadParser();
  const format = options.format ?? 'ts';
  if (!PLAN_FORMATS.includes(format)) throw new InvalidArgumentError(`format must be ${PLAN_FORMATS.join(' or ')}`);
  const id = `${timestamp(options.now ?? new Date())}_${options.name}`;
  if (!options.name || !MIGRATION_ID_PATTERN.test(id))
    throw new InvalidArgumentError(
      `name ${JSON.stringify(options.name)} does not make a valid migration id: use only letters, digits, "_", "-" and "." (at most 185 characters)`,
    );
  if (options.recipe === undefined && (options.table !== undefined || options.column !== undefined))
    throw new InvalidArgumentError('--table and --column fill a recipe: give --recipe <operation> too');
  if (options.column !== undefined && options.table === undefined) throw new InvalidArgumentError('--column needs --table');
  if (options.recipe !== undefined) fieldsOf(options.recipe);

  const file = path.join(options.dir, `${id}.${format}`);
  await mkdir(options.dir, { recursive: true });
  const taken = (await readdir(options.dir)).find((f) => path.parse(f).name === id);
  if (taken) throw new InvalidArgumentError(`${path.join(options.dir, taken)} already exists; not overwritten`);

  let db: pg.Client | null = null;
  if (options.databaseUrl && options.table !== undefined) {
    db = new pg.Client({ connectionString: options.databaseUrl, application_name: 'pgshift new' });
    await db.connect();
  }
  let filled: Awaited<ReturnType<typeof fillOperation>> | null = null;
  try {
    filled = options.recipe === undefined ? null : await fillOperation(options.recipe, options, db);
  } finally {
    await db?.end();
  }
  const notes = filled?.notes ?? [];
  const placeholders = filled?.placeholders ?? [];
  const description = options.name.replace(/[_.-]+/g, ' ').trim();
  const catalog = db !== null;
  const header: string[] = [];
  if (!filled)
    header.push(
      'Add operations, e.g. renameColumn({ table: ..., from: ..., to: ... }); `pgshift plan <id>` checks them against the database.',
    );
  else if (options.table === undefined) header.push('No --table given: schema, table and the other fields are placeholders.');
  else if (!catalog)
    header.push(
      'Written without a database (no --database-url / DATABASE_URL): no catalog facts were read; check types and names yourself.',
    );
  else header.push(`Catalog facts read when this file was written (${new Date().toISOString()}):`, ...notes.map((n) => `  ${n}`));
  if (placeholders.length)
    header.push(
      `Fill in: ${placeholders.map((p) => `<${p}>`).join(', ')}. \`pgshift plan ${id}\` then checks the plan against the database.`,
    );

  const text =
    format !== 'json'
      ? renderModule(id, description, filled?.operation ?? null, header, format === 'ts' || (await jsIsEsm(options.dir)) ? 'esm' : 'cjs')
      : `${JSON.stringify(
          {
            id,
            description: notes.length ? `${description}. Catalog when written: ${notes.join('; ')}` : description,
            operations: filled ? [filled.operation] : [],
          },
          null,
          2,
        )}\n`;
  await writeFile(file, text, { flag: 'wx' });
  return { id, file, format, recipe: options.recipe ?? null, catalog, placeholders, notes };
}
