// @ingest/ops: what operators see and are told: fleet gauges, queue depths, lint-clean process metrics, heartbeats.
export { createOpsContext, type OpsContext, type OpsContextOptions } from './ops-context.ts';
export { readFleetCounts, recordHeartbeat, type FleetCounts } from './fleet-state.ts';
export { createQueueDepthReader, type QueueDepth, type QueueDepthReader, type QueueDepthReaderOptions } from './queue-depths.ts';
export { collectNodeMetrics } from './node-metrics.ts';
export { startReadinessGate, type ReadinessGate, type ReadinessGateOptions, type ReadinessState, type ProbeReport } from './readiness-gate.ts';
export { registerFleetMetrics, type FleetMetricsOptions } from './fleet-metrics.ts';
export { deliverAlerts, type AlertDeliveryOptions, type AlertDeliveryResult, type AlertFormat, type AlertPayload } from './alert-delivery.ts';
export { readLastHour, type LastHour, searchSagas, sagaSearchQuery, listCleanups, findCleanup, listDeadLetters, type SagaSummary, type SagaPage, type SagaSearchContext, type CleanupSummary, type DeadLetter } from './fleet-state.ts';
export { parseSagaFilter, encodeCursor, SAGA_STATUSES, type SagaFilter, type SagaCursor } from './saga-query.ts';
export { requeueDeadLetter, discardDeadLetter, UnknownQueueError } from './dead-letter-actions.ts';
export { OpsError, InvalidQueryError, OpsNotFoundError, type QueryFieldProblem } from './errors.ts';
