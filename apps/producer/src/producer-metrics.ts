// Prometheus metrics of the producer: HTTP traffic, the fleet's saga counts (read on scrape), process defaults.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectNodeMetrics } from '@ingest/ops';
import type { Logger } from 'pino';
import type { SagaStats } from '@ingest/saga-core';

/** What the producer's metrics need: where saga stats come from, and where to report a failed refresh. */
export interface ProducerMetricsOptions {
  stats: () => Promise<SagaStats>;
  logger: Logger;
}

/** The producer's registry and the recorder the HTTP layer calls once per answered request. */
export interface ProducerMetrics {
  registry: Registry;
  observeRequest(labels: { method: string; route: string; status: number }, durationSeconds: number): void;
  /** Counts one authentication by caller (token name, or "unknown") and outcome. */
  observeAuth(caller: string, outcome: 'accepted' | 'unauthorized' | 'forbidden' | 'rate_limited'): void;
}

/** Creates a registry of its own (not prom-client's global one), so several apps can live in one process. */
export function createProducerMetrics(options: ProducerMetricsOptions): ProducerMetrics {
  const registry = new Registry();
  collectNodeMetrics(registry);
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests answered, by route and status', labelNames, registers: [registry] });
  const durations = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request durations, by route and status',
    labelNames,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const auth = new Counter({
    name: 'producer_auth_total',
    help: 'Authentications by caller (token name; "unknown" for a missing or unknown token) and outcome (accepted, unauthorized, forbidden, rate_limited)',
    labelNames: ['caller', 'outcome'] as const,
    registers: [registry],
  });
  const refreshFailures = new Counter({
    name: 'ingest_stats_refresh_failures_total',
    help: 'Scrapes on which the saga statistics could not be read (the gauges keep their last values)',
    registers: [registry],
  });
  // Both gauges are collected in the same scrape: they share one in-flight read, so one query per scrape.
  let inflight: Promise<SagaStats | undefined> | undefined;
  const readStats = (): Promise<SagaStats | undefined> =>
    (inflight ??= options
      .stats()
      .catch((err: unknown) => {
        // A failed read must not fail the scrape of every other metric; the gauges keep their last values.
        refreshFailures.inc();
        options.logger.warn({ err }, 'could not read saga stats for /metrics');
        return undefined;
      })
      .finally(() => {
        inflight = undefined;
      }));
  new Gauge({
    name: 'ingest_sagas',
    help: 'Sagas by coarse status (active = running or compensating)',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const s = await readStats();
      if (s === undefined) return;
      this.set({ status: 'active' }, s.active);
      this.set({ status: 'completed' }, s.completed);
      this.set({ status: 'compensated' }, s.compensated);
      this.set({ status: 'compensation_failed' }, s.compensationFailed);
      this.set({ status: 'failed' }, s.failed);
    },
  });
  new Gauge({
    name: 'ingest_pending_cleanups',
    help: 'Recorded leftovers the janitor has not removed yet',
    registers: [registry],
    async collect() {
      const s = await readStats();
      if (s !== undefined) this.set(s.pendingCleanups);
    },
  });
  return {
    registry,
    observeRequest(labels, durationSeconds) {
      const l = { method: labels.method, route: labels.route, status: String(labels.status) };
      requests.inc(l);
      durations.observe(l, durationSeconds);
    },
    observeAuth(caller, outcome) {
      auth.inc({ caller, outcome });
    },
  };
}
