// Prometheus metrics of a worker: step durations and saga endings from the engine's events, bytes uploaded, process
// defaults (lint-clean).
import { Counter, Histogram, Registry } from 'prom-client';
import type { IngestRuntime } from '@ingest/ingest';
import { collectNodeMetrics } from '@ingest/ops';
import type { SagaEngine } from '@ingest/saga-core';

/** Registers the worker's metrics in a registry of their own and subscribes them to `engine`'s and `uploads`' events. */
export function createWorkerMetrics(engine: Pick<SagaEngine, 'on'>, uploads?: Pick<IngestRuntime, 'onUploadedBytes'>): Registry {
  const registry = new Registry();
  collectNodeMetrics(registry);
  const uploadBytes = new Counter({
    name: 'ingest_upload_bytes_total',
    help: 'Bytes of source files stored in S3 by uploads in this worker (resumed chunks already stored do not count)',
    registers: [registry],
  });
  uploads?.onUploadedBytes((bytes) => uploadBytes.inc(bytes));
  const stepDurations = new Histogram({
    name: 'saga_step_duration_seconds',
    help: 'Duration of step actions and compensations run by this worker, by outcome',
    labelNames: ['saga', 'step', 'phase', 'outcome'] as const,
    // Steps range from milliseconds (a row insert) to an hour (a multi-GB upload).
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
    registers: [registry],
  });
  const endings = new Counter({
    name: 'saga_endings_total',
    help: 'Sagas that reached a final status in this worker, by status',
    labelNames: ['saga', 'status'] as const,
    registers: [registry],
  });
  engine.on('step', (e) => {
    const durationMs = e.durationMs;
    if (typeof durationMs !== 'number') return;
    stepDurations.observe({ saga: text(e.sagaName), step: text(e.step), phase: text(e.phase), outcome: text(e.outcome) }, durationMs / 1000);
  });
  engine.on('saga_ended', (e) => {
    endings.inc({ saga: text(e.sagaName), status: text(e.status) });
  });
  return registry;
}

// Events arrive as loose records; a missing label must not drop the observation.
function text(value: unknown): string {
  return typeof value === 'string' && value !== '' ? value : 'unknown';
}
