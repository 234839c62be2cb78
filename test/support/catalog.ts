import type { TestDatabase } from './database.js';

/**
 * Everything a user could see of a table and of pgshift's objects: columns (with type, nullability,
 * default, collation, comment), constraints, indexes, triggers, pgshift functions, and the ledger
 * rows of a migration. Used to prove a rollback restores the table exactly.
 */
export async function snapshot(db: TestDatabase, table: string, migrationId?: string) {
  const columns = await db.query(
    `SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull, a.attidentity::text,
            pg_get_expr(d.adbin, d.adrelid) AS default, a.attcollation::regcollation::text AS collation,
            col_description(a.attrelid, a.attnum) AS comment
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [table],
  );
  const constraints = await db.query(
    `SELECT conname, contype::text, pg_get_constraintdef(oid) AS def, convalidated FROM pg_constraint WHERE conrelid = $1::regclass ORDER BY conname`,
    [table],
  );
  const indexes = await db.query(
    `SELECT indexname, indexdef FROM pg_indexes WHERE format('%I.%I', schemaname, tablename)::regclass = $1::regclass ORDER BY 1`,
    [table],
  );
  const triggers = await db.query(
    `SELECT tgname, tgenabled::text FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal ORDER BY 1`,
    [table],
  );
  const functions = await db.query(
    `SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'pgshift' ORDER BY 1`,
  );
  const ledger = migrationId
    ? {
        migrations: await db.query(`SELECT id, state FROM pgshift.migrations WHERE id = $1`, [migrationId]).catch(() => []),
        progress: await db.query(`SELECT task FROM pgshift.backfill_progress WHERE migration_id = $1`, [migrationId]).catch(() => []),
        verifications: await db.query(`SELECT id FROM pgshift.verifications WHERE migration_id = $1`, [migrationId]).catch(() => []),
      }
    : null;
  return { columns, constraints, indexes, triggers, functions, ledger };
}

/** One constraint of `table` (an SQL name) by name: validated or not, and its definition; null when there is none. */
export async function constraintOf(db: TestDatabase, table: string, name: string) {
  const [row] = await db.query<{ validated: boolean; def: string }>(
    `SELECT convalidated AS validated, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2`,
    [table, name],
  );
  return row ?? null;
}
