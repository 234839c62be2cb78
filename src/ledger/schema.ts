/**
 * The ledger's own versioned schema. Each entry upgrades the ledger from version i to i + 1 and
 * runs once, in a transaction, under the orchestrator lock. Append only; never edit a shipped entry.
 */
export const LEDGER_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE pgshift.migrations (
    id          text PRIMARY KEY,
    checksum    text NOT NULL,
    description text,
    plan        jsonb NOT NULL,
    facts       jsonb NOT NULL,
    state       text NOT NULL CHECK (state IN ('expand', 'dual-write', 'backfill', 'contract')),
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
  );
  CREATE TABLE pgshift.phase_runs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    migration_id    text NOT NULL,
    phase           text NOT NULL,
    action          text NOT NULL CHECK (action IN ('apply', 'rollback', 'verify')),
    status          text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'refused', 'interrupted')),
    started_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at     timestamptz,
    host            text,
    pid             integer,
    application     text,
    backend_pid     integer,
    pgshift_version text,
    details         jsonb NOT NULL DEFAULT '{}',
    error           text
  );
  CREATE INDEX phase_runs_migration ON pgshift.phase_runs (migration_id, id);
  CREATE TABLE pgshift.backfill_progress (
    migration_id text NOT NULL,
    task         text NOT NULL,
    cursor       jsonb,
    rows_done    bigint NOT NULL DEFAULT 0,
    batches      bigint NOT NULL DEFAULT 0,
    row_estimate bigint,
    settings     jsonb NOT NULL DEFAULT '{}',
    started_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at  timestamptz,
    PRIMARY KEY (migration_id, task)
  );
  CREATE TABLE pgshift.verifications (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    migration_id text NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL,
    rows_checked bigint NOT NULL,
    mismatches   bigint NOT NULL,
    sample_keys  jsonb NOT NULL,
    passed       boolean NOT NULL,
    details      jsonb NOT NULL DEFAULT '{}'
  );
  CREATE INDEX verifications_migration ON pgshift.verifications (migration_id, id);
  `,
  // 2: the backfill engine. Progress rows become one per worker, each over its own key range,
  // and carry what status shows; live settings written by `pgshift tune/pause/resume`.
  `
  ALTER TABLE pgshift.backfill_progress
    ADD COLUMN range_start    jsonb,
    ADD COLUMN range_end      jsonb,
    ADD COLUMN batch_size     integer,
    ADD COLUMN rows_per_second double precision,
    ADD COLUMN hold_reason    text,
    ADD COLUMN held_since     timestamptz;
  -- A backfill in flight under version 1 becomes worker 0 over the whole key range, cursor kept.
  UPDATE pgshift.backfill_progress SET task = task || '#0' WHERE position('#' in task) = 0;
  CREATE TABLE pgshift.backfill_control (
    migration_id text PRIMARY KEY,
    settings     jsonb NOT NULL DEFAULT '{}',
    paused       boolean NOT NULL DEFAULT false,
    version      bigint NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_by   text
  );
  `,
  // 3: `pgshift stamp` records a phase done outside pgshift as a run of its own action.
  `
  ALTER TABLE pgshift.phase_runs
    DROP CONSTRAINT phase_runs_action_check,
    ADD CONSTRAINT phase_runs_action_check CHECK (action IN ('apply', 'rollback', 'verify', 'stamp'));
  `,
  // 4: tune, pause and resume are runs too (history lists them), and who paused a backfill is kept
  // apart from who last wrote its control row, so a tune while paused does not claim the pause.
  `
  ALTER TABLE pgshift.phase_runs
    DROP CONSTRAINT phase_runs_action_check,
    ADD CONSTRAINT phase_runs_action_check CHECK (action IN ('apply', 'rollback', 'verify', 'stamp', 'tune', 'pause', 'resume'));
  ALTER TABLE pgshift.backfill_control ADD COLUMN paused_by text;
  UPDATE pgshift.backfill_control SET paused_by = updated_by WHERE paused;
  `,
];

export const LEDGER_VERSION = LEDGER_MIGRATIONS.length;
