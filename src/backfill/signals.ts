import pg from 'pg';
import type { TableRef } from '../catalog/introspect.js';
import { queryRows, type Queryable } from '../db/queryable.js';
import { literal, qualified } from '../sql/ident.js';

/** Why the backfill must hold right now, or null. */
export type HoldReason = string | null;

export interface SignalSettings {
  /** Hold while replica replay lag exceeds this; null = not checked. */
  maxLagMs: number | null;
  /** Measure lag on this standby instead of from the primary's pg_stat_replication. */
  replicaUrl: string | null;
  /**
   * Which vacuums hold: `wraparound` holds for anti-wraparound autovacuums and manual VACUUMs, not
   * for the routine autovacuum the backfill's own updates trigger (holding for that would stall
   * every backfill in normal operation); `all` holds for every vacuum (GitLab's behaviour).
   */
  holdOnVacuum: 'wraparound' | 'all' | 'off';
}

/**
 * Replica replay lag in ms. On the primary: the largest `replay_lag` in pg_stat_replication
 * (0 with no standby attached; NULL lag means caught up and idle). On a standby: time since the
 * last replayed transaction, or 0 when it has replayed all it received.
 */
export async function replicaLagMs(db: Queryable, onStandby: boolean): Promise<number> {
  if (onStandby) {
    const [row] = await queryRows<{ standby: boolean; lag_ms: number | null }>(
      db,
      `SELECT pg_is_in_recovery() AS standby,
              CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                   ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000 END::float8 AS lag_ms`,
    );
    if (!row?.standby) throw new Error('the --replica-url server is not a standby (pg_is_in_recovery() is false)');
    if (row.lag_ms === null) throw new Error('the standby has not replayed any transaction yet');
    return row.lag_ms;
  }
  const [row] = await queryRows<{ lag_ms: number | null }>(
    db,
    `SELECT coalesce(max(extract(epoch FROM replay_lag) * 1000), 0)::float8 AS lag_ms FROM pg_catalog.pg_stat_replication`,
  );
  return row?.lag_ms ?? 0;
}

/** Vacuums running on the table right now (autovacuum workers and manual VACUUM). */
export async function vacuumsOn(db: Queryable, table: TableRef): Promise<{ pid: number; auto: boolean; wraparound: boolean; phase: string }[]> {
  return queryRows<{ pid: number; auto: boolean; wraparound: boolean; phase: string }>(
    db,
    `SELECT v.pid, a.backend_type = 'autovacuum worker' AS auto,
            coalesce(a.query LIKE '%(to prevent wraparound)%', false) AS wraparound, v.phase
       FROM pg_catalog.pg_stat_progress_vacuum v JOIN pg_catalog.pg_stat_activity a ON a.pid = v.pid
      WHERE v.relid = to_regclass(${literal(qualified(table.schema, table.name))})`,
  );
}

/**
 * Checks every configured signal. A signal that is configured but cannot be read holds the
 * backfill too (fail closed): not knowing the replica lag is not permission to outrun it.
 */
export class HealthSignals {
  private replica: pg.Client | null = null;
  private statsVisible: boolean | null = null;

  constructor(
    private readonly primary: Queryable,
    private readonly tables: readonly TableRef[],
  ) {}

  /**
   * pg_stat_replication and pg_stat_progress_vacuum hide other roles' rows' details (NULL lag,
   * NULL relid) from roles without pg_read_all_stats: they would read as "all clear".
   */
  private async canSeeStats(): Promise<boolean> {
    if (this.statsVisible === null) {
      const [row] = await queryRows<{ ok: boolean }>(
        this.primary,
        `SELECT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
             OR pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS ok`,
      );
      this.statsVisible = row?.ok === true;
    }
    return this.statsVisible;
  }

  async check(settings: SignalSettings): Promise<HoldReason> {
    const noStats = async (what: string) =>
      (await this.canSeeStats().catch(() => false))
        ? null
        : `cannot read ${what} (holding until it can be read): role lacks pg_read_all_stats (grant it or pg_monitor, or turn the signal off)`;
    if (settings.maxLagMs !== null) {
      if (!settings.replicaUrl) {
        const blind = await noStats('replica lag');
        if (blind) return blind;
      }
      try {
        const lag = await replicaLagMs(settings.replicaUrl ? await this.standby(settings.replicaUrl) : this.primary, Boolean(settings.replicaUrl));
        if (lag > settings.maxLagMs) return `replica lag ${Math.round(lag)} ms > max ${settings.maxLagMs} ms`;
      } catch (error) {
        await this.dropStandby();
        return `cannot read replica lag (holding until it can be read): ${(error as Error).message}`;
      }
    }
    if (settings.holdOnVacuum !== 'off') {
      const blind = await noStats('vacuum progress');
      if (blind) return blind;
      for (const table of this.tables) {
        try {
          const running = (await vacuumsOn(this.primary, table)).filter(
            (v) => settings.holdOnVacuum === 'all' || !v.auto || v.wraparound,
          );
          if (running.length) {
            const v = running[0]!;
            const what = !v.auto ? 'VACUUM' : v.wraparound ? 'anti-wraparound autovacuum' : 'autovacuum';
            return `${what} running on ${table.name} (pid ${v.pid}, ${v.phase})`;
          }
        } catch (error) {
          return `cannot read vacuum progress (holding until it can be read): ${(error as Error).message}`;
        }
      }
    }
    return null;
  }

  private async standby(url: string): Promise<pg.Client> {
    if (!this.replica) {
      const client = new pg.Client({ connectionString: url, application_name: 'pgshift lag probe', connectionTimeoutMillis: 5000 });
      client.on('error', () => void this.dropStandby());
      await client.connect();
      this.replica = client;
    }
    return this.replica;
  }

  private async dropStandby(): Promise<void> {
    const c = this.replica;
    this.replica = null;
    await c?.end().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.dropStandby();
  }
}
