import pg from 'pg';
import type { TableRef } from '../catalog/introspect.js';
import { queryRows, type Queryable } from '../db/queryable.js';
import { literal, qualified } from '../sql/ident.js';

/** Why the backfill must hold right now, or null. */
export type HoldReason = string | null;

export interface SignalSettings {
  /** Hold while replica replay lag exceeds this; null = not checked. */
  maxLagMs: number | null;
  /** Hold while a standby is this many bytes of WAL behind the primary; null = not checked. */
  maxLagBytes: number | null;
  /** Measure lag on this standby instead of from the primary's pg_stat_replication. */
  replicaUrl: string | null;
  /** On the primary: standbys (by application_name) that must be attached; a missing one holds. */
  requireStandbys: readonly string[];
  /**
   * On the primary: how many standbys must be attached; a smaller count holds. null = as many as
   * were attached when this backfill run started (a standby that goes away holds; none at the start
   * requires none).
   */
  minStandbys: number | null;
  /**
   * Which vacuums hold: `wraparound` holds for anti-wraparound autovacuums and manual VACUUMs, not
   * for the routine autovacuum the backfill's own updates trigger (holding for that would stall
   * every backfill in normal operation); `all` holds for every vacuum (GitLab's behaviour).
   */
  holdOnVacuum: 'wraparound' | 'all' | 'off';
}

/** One reading of replication lag: the worst standby's, in time and in bytes of WAL. */
export interface LagReading {
  ms: number;
  bytes: number;
  /** Which standby the worst figures belong to, and anything worth saying about it. */
  detail: string;
}

/** Lag could not be read, or the standby is in a state where its lag is not known to be small. */
export class LagUnknown {
  constructor(readonly reason: string) {}
}

interface SenderRow {
  application_name: string;
  state: string;
  lag_ms: number | null;
  lag_bytes: string | null;
}

/**
 * Lag as the primary sees it: one row per walsender (pg_basebackup's are left out). Time from
 * `replay_lag` (NULL while caught up and idle: 0); bytes from the primary's current WAL position to
 * each standby's replayed one, which keeps growing when the standby stops replaying even on an
 * idle primary whose replay timestamps go stale. A standby that has not reported a replay
 * position yet is not known to be caught up.
 */
export async function primaryLag(db: Queryable): Promise<{ standbys: string[]; reading: LagReading | LagUnknown }> {
  const rows = await queryRows<SenderRow>(
    db,
    `SELECT application_name, state, extract(epoch FROM replay_lag)::float8 * 1000 AS lag_ms,
            pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_insert_lsn(), replay_lsn)::text AS lag_bytes
       FROM pg_catalog.pg_stat_replication WHERE state <> 'backup' ORDER BY application_name`,
  );
  const standbys = rows.map((r) => r.application_name);
  let worst: LagReading = { ms: 0, bytes: 0, detail: rows.length ? '' : 'no standby attached' };
  for (const r of rows) {
    if (r.lag_bytes === null)
      return { standbys, reading: new LagUnknown(`standby "${r.application_name}" (${r.state}) has not reported its replay position yet`) };
    const ms = r.lag_ms ?? 0;
    const bytes = Math.max(0, Number(r.lag_bytes));
    worst = {
      ms: Math.max(worst.ms, ms),
      bytes: Math.max(worst.bytes, bytes),
      detail: bytes >= worst.bytes ? `standby "${r.application_name}"` : worst.detail,
    };
  }
  return { standbys, reading: worst };
}

/**
 * Lag as a standby sees it, with the primary's current WAL positions to compare against: `lsn`
 * (inserted) and `flushed` (what the primary's walsender can send: it sends only flushed WAL).
 * Holds (LagUnknown) when the standby is not streaming: no WAL receiver, or one not in `streaming`
 * state, or one whose last message from the primary is older than `staleMs` while the primary has
 * flushed WAL the standby has not received. (Inserted but unflushed WAL is not waiting to be sent:
 * counting it held every first check after an idle spell, when the standby had heard nothing for
 * a while and the orchestrator's own latest writes were not flushed yet, as with
 * synchronous_commit = off.) Time: since the last replayed transaction while replay is
 * behind what was received (0 when all received WAL is replayed, which is why a cut-off standby
 * read "no lag" before the streaming check). Bytes: the primary's position minus the standby's
 * replayed one, so WAL the standby never received counts too.
 */
export async function standbyLag(
  standby: Queryable,
  primary: { lsn: string; flushed: string },
  staleMs: number,
): Promise<LagReading | LagUnknown> {
  const [row] = await queryRows<{
    standby: boolean;
    status: string | null;
    receiver: boolean;
    msg_age_ms: number | null;
    lag_ms: number | null;
    behind_bytes: string | null;
    unreceived_bytes: string | null;
    paused: boolean;
  }>(
    standby,
    `SELECT pg_catalog.pg_is_in_recovery() AS standby,
            r.status, r.pid IS NOT NULL AS receiver,
            extract(epoch FROM clock_timestamp() - r.last_msg_receipt_time)::float8 * 1000 AS msg_age_ms,
            CASE WHEN NOT pg_catalog.pg_is_in_recovery() THEN NULL
                 WHEN pg_catalog.pg_last_wal_receive_lsn() = pg_catalog.pg_last_wal_replay_lsn() THEN 0
                 ELSE extract(epoch FROM clock_timestamp() - pg_catalog.pg_last_xact_replay_timestamp()) * 1000 END::float8 AS lag_ms,
            greatest(0, pg_catalog.pg_wal_lsn_diff($1::pg_lsn, pg_catalog.pg_last_wal_replay_lsn()))::text AS behind_bytes,
            greatest(0, pg_catalog.pg_wal_lsn_diff($2::pg_lsn, coalesce(pg_catalog.pg_last_wal_receive_lsn(), pg_catalog.pg_last_wal_replay_lsn())))::text AS unreceived_bytes,
            CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_is_wal_replay_paused() ELSE false END AS paused
       FROM (SELECT 1) AS one LEFT JOIN pg_catalog.pg_stat_wal_receiver r ON true`,
    [primary.lsn, primary.flushed],
  );
  if (!row?.standby) throw new Error('the --replica-url server is not a standby (pg_is_in_recovery() is false)');
  const behind = Number(row.behind_bytes ?? 0);
  const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
  if (!row.receiver)
    return new LagUnknown(
      `standby is not streaming from the primary: no WAL receiver running (check primary_conninfo and the primary's reachability); ${mb(behind)} behind`,
    );
  if (row.status === null)
    return new LagUnknown(
      "cannot read the standby's WAL receiver status: role lacks pg_read_all_stats on the standby (grant it or pg_monitor)",
    );
  if (row.status !== 'streaming')
    return new LagUnknown(`standby is not streaming from the primary: WAL receiver is "${row.status}"; ${mb(behind)} behind`);
  const unreceived = Number(row.unreceived_bytes ?? 0);
  if (row.msg_age_ms !== null && row.msg_age_ms > staleMs && unreceived > 0)
    return new LagUnknown(
      `standby has heard nothing from the primary for ${Math.round(row.msg_age_ms)} ms while ${mb(unreceived)} of WAL wait to be sent (connection stalled?)`,
    );
  if (row.lag_ms === null) throw new Error('the standby has not replayed any transaction yet');
  return { ms: row.lag_ms, bytes: behind, detail: row.paused ? 'standby (replay is paused there: pg_wal_replay_pause)' : 'standby' };
}

/** With --max-lag off: how old the standby's last message from the primary may be while WAL waits for it. */
const DEFAULT_STALE_MS = 10_000;

/** A lag reading and when it was taken. */
export interface LagSample {
  at: number;
  ms: number;
  bytes: number;
}

/** How fast lag grew while the backfill was writing, per ms. */
export interface LagGrowth {
  ms: number;
  bytes: number;
}

/** Growth per ms between two readings; shrinking lag counts as no growth. */
export function lagGrowth(previous: LagSample, current: LagSample): LagGrowth | null {
  const dt = current.at - previous.at;
  if (dt <= 0) return null;
  return { ms: Math.max(0, current.ms - previous.ms) / dt, bytes: Math.max(0, current.bytes - previous.bytes) / dt };
}

/** Lag expected after `horizonMs` more of the growth seen while the backfill wrote (the next batch and its pause). */
export function predictLag(current: LagSample, growth: LagGrowth | null, horizonMs: number): { ms: number; bytes: number } {
  if (!growth) return { ms: current.ms, bytes: current.bytes };
  return { ms: current.ms + growth.ms * horizonMs, bytes: current.bytes + growth.bytes * horizonMs };
}

const fmtBytes = (n: number) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : `${Math.round(n / 1024)} kB`);

/**
 * Why the lag reading holds, or null. Crossing a limit holds; so does a reading under the limit
 * whose growth since the last one would cross it before the next batch ends.
 */
export function lagHold(
  settings: Pick<SignalSettings, 'maxLagMs' | 'maxLagBytes'>,
  reading: LagReading,
  predicted: { ms: number; bytes: number },
): HoldReason {
  const who = reading.detail ? ` on ${reading.detail}` : '';
  if (settings.maxLagMs !== null && reading.ms > settings.maxLagMs)
    return `replica lag ${Math.round(reading.ms)} ms > max ${settings.maxLagMs} ms${who}`;
  if (settings.maxLagBytes !== null && reading.bytes > settings.maxLagBytes)
    return `replica lag ${fmtBytes(reading.bytes)} of WAL > max ${fmtBytes(settings.maxLagBytes)} (--max-lag-bytes)${who}`;
  if (settings.maxLagMs !== null && predicted.ms > settings.maxLagMs)
    return `replica lag ${Math.round(reading.ms)} ms is growing: would pass max ${settings.maxLagMs} ms during the next batch (~${Math.round(predicted.ms)} ms)${who}`;
  if (settings.maxLagBytes !== null && predicted.bytes > settings.maxLagBytes)
    return `replica lag ${fmtBytes(reading.bytes)} of WAL is growing: would pass max ${fmtBytes(settings.maxLagBytes)} during the next batch (~${fmtBytes(predicted.bytes)})${who}`;
  return null;
}

/** Standbys that must be attached to the primary and are not, as a hold reason; null when all are. */
export function missingStandbys(attached: readonly string[], required: readonly string[], minimum: number, minimumWhy: string): HoldReason {
  const missing = required.filter((name) => !attached.includes(name));
  if (missing.length)
    return `required standby ${missing.map((m) => `"${m}"`).join(', ')} not attached to the primary (pg_stat_replication has ${attached.length ? attached.map((a) => `"${a}"`).join(', ') : 'none'}; --require-standby)`;
  if (attached.length < minimum)
    return `${attached.length} standby(s) attached to the primary, fewer than the ${minimum} ${minimumWhy}: a missing standby's lag is unknown`;
  return null;
}

/** Vacuums running on the table right now (autovacuum workers and manual VACUUM). */
export async function vacuumsOn(
  db: Queryable,
  table: TableRef,
): Promise<{ pid: number; auto: boolean; wraparound: boolean; phase: string }[]> {
  return queryRows<{ pid: number; auto: boolean; wraparound: boolean; phase: string }>(
    db,
    `SELECT v.pid, a.backend_type = 'autovacuum worker' AS auto,
            coalesce(a.query LIKE '%(to prevent wraparound)%', false) AS wraparound, v.phase
       FROM pg_catalog.pg_stat_progress_vacuum v JOIN pg_catalog.pg_stat_activity a ON a.pid = v.pid
      WHERE v.relid = to_regclass(${literal(qualified(table.schema, table.name))})`,
  );
}

/** Vacuum progress changes slowly; lag is read fresh before every batch. */
const VACUUM_CACHE_MS = 500;
/** Growth is measured over at least this long, so two readings a moment apart do not make noise a trend. */
const MIN_GROWTH_WINDOW_MS = 50;

/**
 * Checks every configured signal. A signal that is configured but cannot be read holds the
 * backfill too (fail closed): not knowing the replica lag is not permission to outrun it.
 */
export class HealthSignals {
  private replica: pg.Client | null = null;
  /** Backends running the backfill's own VACUUM (src/backfill/vacuum-step.ts): never a reason to hold. */
  readonly ownVacuumPids = new Set<number>();
  private statsVisible: boolean | null = null;
  /** Standbys attached when this run first looked: the default --min-standbys. */
  private standbysAtStart: number | null = null;
  private previousLag: LagSample | null = null;
  /** The last check let a batch run: growth since then is the backfill's own doing. */
  private wentOn = false;
  /**
   * Growth measured across batches, kept while holding (lag does not grow from our writes then, so
   * a reading taken during a hold would predict no growth and let the next batch cross the limit).
   */
  private growth: LagGrowth | null = null;
  private vacuumAt = 0;
  private vacuumReason: HoldReason = null;

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

  private async noStats(what: string): Promise<HoldReason> {
    return (await this.canSeeStats().catch(() => false))
      ? null
      : `cannot read ${what} (holding until it can be read): role lacks pg_read_all_stats (grant it or pg_monitor, or turn the signal off)`;
  }

  /** `horizonMs`: how long the next batch and its pause are expected to take (growth is projected that far). */
  async check(settings: SignalSettings, horizonMs = 0): Promise<HoldReason> {
    const lag = await this.checkLag(settings, horizonMs);
    if (lag) return lag;
    const now = Date.now();
    if (now - this.vacuumAt >= VACUUM_CACHE_MS) {
      this.vacuumAt = now;
      this.vacuumReason = await this.checkVacuum(settings);
    }
    return this.vacuumReason;
  }

  private async checkLag(settings: SignalSettings, horizonMs: number): Promise<HoldReason> {
    if (settings.maxLagMs === null && settings.maxLagBytes === null) return null;
    if (!settings.replicaUrl) {
      const blind = await this.noStats('replica lag');
      if (blind) return blind;
    }
    let reading: LagReading | LagUnknown;
    try {
      if (settings.replicaUrl) {
        const [at] = await queryRows<{ lsn: string; flushed: string }>(
          this.primary,
          `SELECT pg_catalog.pg_current_wal_insert_lsn()::text AS lsn, pg_catalog.pg_current_wal_flush_lsn()::text AS flushed`,
        );
        reading = await standbyLag(await this.standby(settings.replicaUrl), at!, settings.maxLagMs ?? DEFAULT_STALE_MS);
      } else {
        const seen = await primaryLag(this.primary);
        if (this.standbysAtStart === null) this.standbysAtStart = seen.standbys.length;
        const minimum = settings.minStandbys ?? this.standbysAtStart;
        const why =
          settings.minStandbys === null ? 'attached when the backfill started (--min-standbys to change)' : 'required by --min-standbys';
        const missing = missingStandbys(seen.standbys, settings.requireStandbys, minimum, why);
        if (missing) return missing;
        reading = seen.reading;
      }
    } catch (error) {
      await this.dropStandby();
      this.previousLag = null;
      this.wentOn = false;
      return `cannot read replica lag (holding until it can be read): ${(error as Error).message}`;
    }
    if (reading instanceof LagUnknown) {
      this.previousLag = null;
      this.wentOn = false;
      return reading.reason;
    }
    const sample: LagSample = { at: Date.now(), ms: reading.ms, bytes: reading.bytes };
    const previous = this.previousLag;
    if (previous && this.wentOn && sample.at - previous.at >= MIN_GROWTH_WINDOW_MS)
      this.growth = lagGrowth(previous, sample) ?? this.growth;
    if (!previous || sample.at - previous.at >= MIN_GROWTH_WINDOW_MS) this.previousLag = sample;
    const hold = lagHold(settings, reading, predictLag(sample, this.growth, horizonMs));
    this.wentOn = hold === null;
    return hold;
  }

  private async checkVacuum(settings: SignalSettings): Promise<HoldReason> {
    if (settings.holdOnVacuum === 'off') return null;
    const blind = await this.noStats('vacuum progress');
    if (blind) return blind;
    for (const table of this.tables) {
      try {
        const running = (await vacuumsOn(this.primary, table)).filter(
          (v) => !this.ownVacuumPids.has(v.pid) && (settings.holdOnVacuum === 'all' || !v.auto || v.wraparound),
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
