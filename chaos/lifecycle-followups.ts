// The lifecycle half of the soak's load: once a planned saga has committed, delete its document or replace it with
// a new version, under the same chaos. Each request is retried on an ambiguous failure (a repeated delete answers
// the running saga; a repeated replacement carries the same idempotency key), and 409 refusals are counted.
import { errorCode } from '@ingest/saga-core';
import type { IngestRuntime } from '@ingest/ingest';
import { log } from './log.ts';
import type { PlannedSubmission } from './plan.ts';

/** What became of one follow-up. */
export interface FollowUpOutcome {
  kind: 'delete' | 'replace';
  /** The deletion or replacement saga, when one started. */
  sagaId: string | null;
  /** Not attempted: the first saga did not commit (rolled back, refused, or not ended in time). */
  skipped: boolean;
  refusedBy: string | null;
  error: string | null;
}

const MAX_ATTEMPTS = 8;

/** Waits (bounded by `deadline`) for `sagaId` to end, then runs the planned follow-up; never throws. */
export async function runFollowUp(rt: IngestRuntime, sagaId: string, planned: PlannedSubmission, deadline: number): Promise<FollowUpOutcome> {
  const kind = planned.followUp ?? 'delete';
  const base = { kind, sagaId: null, refusedBy: null, error: null };
  let documentId: string | null = null;
  // Bounded by the deadline; one status read a second.
  while (Date.now() < deadline) {
    const s = await rt.status(sagaId).catch(() => null);
    if (s && s.status !== 'running' && s.status !== 'compensating') {
      documentId = s.status === 'completed' ? s.documentId : null;
      break;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  if (!documentId) return { ...base, skipped: true };
  let lastError = '';
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    try {
      const started =
        kind === 'delete'
          ? await rt.deleteDocument(documentId, { requestedBy: 'chaos-soak' })
          : await rt.submit(
              { filePath: planned.replacement?.name ?? planned.file.name, metadata: { title: `soak ${planned.index} v2`, category: 'soak' }, replaces: documentId },
              { idempotencyKey: `${planned.idempotencyKey}-replace`, requestedBy: 'chaos-soak' },
            );
      log(`${kind} of document ${documentId} (saga ${sagaId}) started as saga ${started.sagaId}`);
      return { ...base, sagaId: started.sagaId, skipped: false };
    } catch (err) {
      const code = errorCode(err);
      if (code === 'LOCKED' || code === 'DOCUMENT_DELETING') {
        return { ...base, skipped: false, refusedBy: (err as { holderSagaId?: string }).holderSagaId ?? 'unknown' };
      }
      lastError = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      log(`${kind} of document ${documentId} attempt ${attempt} failed (${lastError.slice(0, 160)}); retrying`);
      await new Promise((r) => setTimeout(r, 1000 * attempt));
    }
  }
  return { ...base, skipped: false, error: lastError };
}
