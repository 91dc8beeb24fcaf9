// @ingest/worker: a stateless process consuming the ingestion saga's step and compensation queues.
export { createWorkerMetrics } from './worker-metrics.ts';
export { buildMetricsServer, type MetricsServerOptions } from './metrics-server.ts';
export { workerRunOptions, type WorkerRunOptions } from './worker-options.ts';
export { startAlertRelay, type AlertRelay } from './alert-relay.ts';
