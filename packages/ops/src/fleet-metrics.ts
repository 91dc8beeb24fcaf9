// Fleet-wide Prometheus gauges read on scrape: queue depths, stuck sagas, open leftovers, the janitor's last pass,
// undelivered alerts. Served by the producer (one scrape target sees the whole fleet).
import type { Logger } from 'pino';
import type { Sql } from 'postgres';
import { Counter, Gauge, type Registry } from 'prom-client';
import { readFleetCounts, type FleetCounts } from './fleet-state.ts';
import type { QueueDepth } from './queue-depths.ts';

/** Collaborators of registerFleetMetrics. */
export interface FleetMetricsOptions {
  registry: Registry;
  sql: Sql;
  /** Idle seconds after which a live saga counts as stuck (STUCK_AFTER_SECONDS). */
  stuckAfterSeconds: number;
  readQueueDepths: () => Promise<QueueDepth[]>;
  logger: Logger;
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

/** Registers the gauges; each scrape makes one PostgreSQL query and one round of BullMQ counts. */
export function registerFleetMetrics(options: FleetMetricsOptions): void {
  const { registry, logger } = options;
  const failures = new Counter({
    name: 'ingest_fleet_scrape_failures_total',
    help: 'Scrapes on which fleet state (PostgreSQL or Redis) could not be read; the gauges keep their last values',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  const shared = <T>(source: string, read: () => Promise<T>): (() => Promise<T | undefined>) => {
    let inflight: Promise<T | undefined> | undefined;
    return () =>
      (inflight ??= read()
        .catch((err: unknown) => {
          failures.inc({ source });
          logger.warn({ err, source }, 'could not read fleet state for /metrics');
          return undefined;
        })
        .finally(() => {
          inflight = undefined;
        }));
  };
  const counts = shared<FleetCounts>('postgres', () => readFleetCounts(options.sql, options.stuckAfterSeconds));
  const depths = shared<QueueDepth[]>('redis', options.readQueueDepths);

  new Gauge({
    name: 'ingest_queue_jobs',
    help: 'Jobs in each step and compensation queue, by state',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      const d = await depths();
      if (d === undefined) return;
      for (const q of d) for (const state of QUEUE_STATES) this.set({ queue: q.queue, state }, q[state]);
    },
  });
  const gauge = (name: string, help: string, pick: (c: FleetCounts) => number | null): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const c = await counts();
        const v = c === undefined ? null : pick(c);
        if (v !== null) this.set(v);
      },
    });
  };
  gauge('ingest_stuck_sagas', 'Live sagas idle past STUCK_AFTER_SECONDS with no lease, or waiting out a retry backoff', (c) => c.stuckSagas);
  gauge('ingest_open_leftovers', 'Recorded leftovers (failed_cleanups) not yet removed', (c) => c.openLeftovers);
  gauge('ingest_oldest_open_leftover_age_seconds', 'Age of the oldest leftover not yet removed; 0 when none', (c) => c.oldestOpenLeftoverSeconds);
  gauge('ingest_janitor_last_pass_timestamp_seconds', 'Unix time of the last finished janitor pass; 0 until one ran', (c) => c.janitorLastPassSeconds ?? 0);
  gauge('ingest_alerts_undelivered', 'Alerts written but not yet delivered to ALERT_WEBHOOK_URL', (c) => c.undeliveredAlerts);
}
