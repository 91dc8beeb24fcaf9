// @ingest/ops: what operators see and are told: fleet gauges, queue depths, lint-clean process metrics, heartbeats.
export { createOpsContext, type OpsContext, type OpsContextOptions } from './ops-context.ts';
export { readFleetCounts, recordHeartbeat, type FleetCounts } from './fleet-state.ts';
export { createQueueDepthReader, type QueueDepth, type QueueDepthReader, type QueueDepthReaderOptions } from './queue-depths.ts';
export { collectNodeMetrics } from './node-metrics.ts';
export { registerFleetMetrics, type FleetMetricsOptions } from './fleet-metrics.ts';
export { deliverAlerts, type AlertDeliveryOptions, type AlertDeliveryResult, type AlertFormat, type AlertPayload } from './alert-delivery.ts';
