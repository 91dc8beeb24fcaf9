// Prometheus metrics of a worker: step durations and saga endings from the engine's events, bytes uploaded, process
// defaults (lint-clean).
import { Counter, Histogram, Registry } from 'prom-client';
import type { IngestRuntime } from '@ingest/ingest';
import { collectNodeMetrics } from '@ingest/ops';
import type { SagaEngine, SagaEngineEvents } from '@ingest/saga-core';

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
  // One handler per engine event, checked against the engine's event map: a new event or a changed payload is a
  // compile error here, not a silently missing series.
  const handlers: { [E in keyof SagaEngineEvents]: (e: SagaEngineEvents[E]) => void } = {
    step: (e) => stepDurations.observe({ saga: e.sagaName, step: e.step, phase: e.phase, outcome: e.outcome }, e.durationMs / 1000),
    saga_ended: (e) => endings.inc({ saga: e.sagaName, status: e.status }),
  };
  engine.on('step', handlers.step);
  engine.on('saga_ended', handlers.saga_ended);
  return registry;
}
