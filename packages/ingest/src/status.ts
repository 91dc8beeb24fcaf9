// Maps the engine's view of a saga to the ingestion status the API reports.
import type { SagaView } from '@ingest/saga-core';
import type { IngestInput } from './ingest-saga.ts';
import type { IngestionStatus, IngestProgress } from './types.ts';

/** GET /v1/sagas/:id body. */
export function toIngestionStatus(view: SagaView): IngestionStatus {
  const input = view.input as unknown as IngestInput;
  const rolledBack = view.status === 'compensated' || view.status === 'compensation_failed' || (view.status === 'failed' && view.state === 'rolled_back');
  const performedCompensation = view.steps.some((s) => s.status === 'compensated' || s.status === 'compensation_failed');
  return {
    sagaId: view.id,
    status: view.status,
    state: view.state,
    success: view.status === 'completed',
    // The stable id: a replacement reports the document it replaced.
    documentId: view.status === 'completed' ? (input.replaces ?? input.documentId ?? null) : null,
    operationId: input.operationId ?? null,
    result: view.status === 'completed' ? (view.steps.at(-1)?.output ?? null) : null,
    rollbackPerformed: rolledBack && performedCompensation,
    rollbackStatus: view.status === 'compensated' ? 'success' : view.status === 'compensation_failed' ? 'partial_failure' : null,
    errors: view.failure ? [`${view.failure.reason}: ${view.failure.message}`, ...view.errors] : view.errors,
    compensationErrors: view.compensationErrors,
    failure: view.failure,
    progress: progressOf(view, input),
    steps: view.steps.map((s) => ({
      name: s.name,
      phase: s.phase,
      status: s.status,
      attempts: s.phase === 'compensation' ? s.compensationAttempts : s.attempts,
      startedAt: s.startedAt?.toISOString() ?? null,
      finishedAt: s.finishedAt?.toISOString() ?? null,
      error: s.phase === 'compensation' ? s.compensationError : s.error,
    })),
    createdAt: view.createdAt.toISOString(),
    finishedAt: view.finishedAt?.toISOString() ?? null,
  };
}

function progressOf(view: SagaView, input: IngestInput): IngestProgress {
  const p = view.progress ?? {};
  const num = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) ? v : d);
  const total = num(p.bytesTotal, input.sizeBytes ?? 0);
  const upload = view.steps.find((s) => s.name === 'chunked_upload');
  const uploaded = upload?.status === 'succeeded';
  const done = uploaded ? total : num(p.bytesDone, 0);
  return {
    bytesDone: done,
    bytesTotal: total,
    percent: total === 0 ? (uploaded ? 100 : 0) : Math.round((done / total) * 10_000) / 100,
    // A finished upload reports its average speed (a final progress line of "0.0 MB/s" told nothing).
    bytesPerSecond: uploaded ? averageRate(total, upload.startedAt, upload.finishedAt) : num(p.bytesPerSecond, 0),
    etaSeconds: uploaded ? 0 : typeof p.etaSeconds === 'number' ? p.etaSeconds : null,
  };
}

/** Bytes per second between two instants; 0 when either is unknown or no time passed. */
function averageRate(bytes: number, startedAt: Date | null, finishedAt: Date | null): number {
  const seconds = startedAt && finishedAt ? (finishedAt.getTime() - startedAt.getTime()) / 1000 : 0;
  return seconds > 0 ? Math.round(bytes / seconds) : 0;
}
