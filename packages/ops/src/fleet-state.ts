// The one module that reads the engine's tables for operators (saga_instances, saga_steps, failed_cleanups,
// saga_dead_letters, fleet_heartbeats): when the engine's columns change, this file is what adapts.
import type { Sql } from 'postgres';

/** Live statuses, as the engine names them. */
const LIVE = ['running', 'compensating'];

/** Counts the gauges need, read in one round trip. */
export interface FleetCounts {
  /** Live sagas idle past the threshold with no lease, or waiting out a retry backoff. */
  stuckSagas: number;
  /** Leftovers not yet removed. */
  openLeftovers: number;
  /** Age of the oldest open leftover, in seconds; 0 when there is none. */
  oldestOpenLeftoverSeconds: number;
  /** Unix seconds of the janitor's last finished pass; null when none was recorded. */
  janitorLastPassSeconds: number | null;
  /** Alerts written but not yet delivered to the webhook. */
  undeliveredAlerts: number;
}

/** SQL condition of a stuck saga over the alias `s`; `$idle` is the idle threshold in seconds. */
export function stuckCondition(sql: Sql, idleSeconds: number) {
  return sql`s.status in ${sql(LIVE)} and (
    (s.updated_at < now() - make_interval(secs => ${idleSeconds}) and (s.lease_until is null or s.lease_until < now()))
    or exists (select 1 from saga_steps st where st.saga_id = s.id and st.step_index = s.current_step and st.status = 'failed')
  )`;
}

/** Reads the fleet-wide counts behind the Prometheus gauges. */
export async function readFleetCounts(sql: Sql, idleSeconds: number): Promise<FleetCounts> {
  const [row] = await sql<{ stuck: number; open: number; oldest: number; janitor: number | null; undelivered: number }[]>`
    select
      (select count(*)::int from saga_instances s where ${stuckCondition(sql, idleSeconds)}) as stuck,
      (select count(*)::int from failed_cleanups where resolved_at is null) as open,
      (select coalesce(extract(epoch from now() - min(created_at)), 0)::float8 from failed_cleanups where resolved_at is null) as oldest,
      (select extract(epoch from at)::float8 from fleet_heartbeats where name = 'janitor_pass') as janitor,
      (select count(*)::int from alert_deliveries where delivered_at is null) as undelivered`;
  return {
    stuckSagas: row?.stuck ?? 0,
    openLeftovers: row?.open ?? 0,
    oldestOpenLeftoverSeconds: row?.oldest ?? 0,
    janitorLastPassSeconds: row?.janitor ?? null,
    undeliveredAlerts: row?.undelivered ?? 0,
  };
}

/** Records that a process finished something periodic now (the janitor's pass), with what it reported. */
export async function recordHeartbeat(sql: Sql, name: string, data: Record<string, unknown> = {}): Promise<void> {
  await sql`insert into fleet_heartbeats (name, at, data) values (${name}, now(), ${JSON.stringify(data)}::jsonb)
    on conflict (name) do update set at = excluded.at, data = excluded.data`;
}
