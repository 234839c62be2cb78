import { MigrationNotFoundError, PlanRejectedError } from '../errors.js';
import { crossOperationProblems, stepsFor } from '../operations/index.js';
import { createdTablesFirst, inspectPlan } from '../operations/blocks/plan-inspection.js';
import { loadMigrations } from '../plan/load.js';
import type { Migration, Phase } from '../plan/model.js';
import { renderPlan, type RenderedPhase } from '../render-plan.js';
import type { LoopSizes } from '../operations/blocks/loop-template.js';
import { loadSchemaFile, type SchemaDatabase } from './schema-database.js';

export interface OfflinePlanOptions {
  /** `pg_dump --schema-only` output of the database the migration is for. */
  schemaFile: string;
  /** Directory of plan files (default ./migrations); ignored when `migrations` is given. */
  dir?: string;
  migrations?: Migration[];
  /** Only this phase (or verify, rollback). */
  phase?: Phase | 'rollback' | 'verify';
  /** Sizes written into the backfill and verify loop templates. */
  sizes?: LoopSizes;
}

export interface OfflinePlanResult {
  id: string;
  /** A schema-only dump has no ledger rows: the migration is planned as not yet started. */
  state: 'pending';
  phases: RenderedPhase[];
  offline: {
    schemaFile: string;
    /** server_version of the in-process PostgreSQL the dump was loaded into. */
    server: string;
    /** A schema-only dump has no rows and no statistics: row counts and batch estimates are unknown. */
    rowEstimates: null;
  };
}

/**
 * `plan` without a database: the schema file is loaded into an in-process PostgreSQL and the
 * migration inspected and rendered there by the same code as online, so the DDL is the same.
 */
export async function planOffline(migrationId: string, options: OfflinePlanOptions): Promise<OfflinePlanResult> {
  const loaded = options.migrations ?? (await loadMigrations(options.dir ?? 'migrations')).map((l) => l.migration);
  const migration = loaded.find((m) => m.id === migrationId);
  if (!migration)
    throw new MigrationNotFoundError(
      migrationId,
      loaded.map((m) => m.id),
    );
  const schema = await loadSchemaFile(options.schemaFile);
  try {
    return await planOnSchema(schema, migration, options);
  } finally {
    await schema.close();
  }
}

/** planOffline on a schema file already loaded (several plans against one dump). */
export async function planOnSchema(
  schema: SchemaDatabase,
  migration: Migration,
  options: Pick<OfflinePlanOptions, 'schemaFile' | 'phase' | 'sizes'>,
): Promise<OfflinePlanResult> {
  const { facts, problems } = await inspectPlan(schema.db, migration);
  if (!problems.length) problems.push(...crossOperationProblems(migration.operations, facts));
  if (problems.length) throw new PlanRejectedError(migration.id, problems, `schema file ${options.schemaFile}`);
  const steps = createdTablesFirst(
    migration.operations,
    migration.operations.map((op, i) => stepsFor(migration.id, op, i, facts[i])),
  );
  const phases = renderPlan(steps, options.sizes).filter((p) => !options.phase || p.phase === options.phase);
  return {
    id: migration.id,
    state: 'pending',
    phases,
    offline: { schemaFile: options.schemaFile, server: schema.serverVersion, rowEstimates: null },
  };
}
