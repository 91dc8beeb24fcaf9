// @ingest/producer: the HTTP API through which upstream systems start ingestions and read their state.
export { buildProducerApp, BODY_LIMIT_BYTES, type ProducerAppOptions } from './app.ts';
export { loadProducerConfig, type ProducerConfig } from './settings.ts';
export { createProducerLogger, REDACTED_PATHS } from './logger.ts';
export { createProducerMetrics, type ProducerMetrics, type ProducerMetricsOptions } from './producer-metrics.ts';
export { toErrorResponse, type ErrorBody, type ErrorField, type ErrorResponse } from './error-response.ts';
export { createTokenCheck } from './token-check.ts';
