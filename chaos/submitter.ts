// Submits the planned sagas through an in-process runtime (no workers in it), each at its planned moment, retrying
// ambiguous failures with the same idempotency key (so a retry can never start a second saga) and counting lock
// refusals (409 SagaLockedError), which are expected for submissions that race another one for a file.
import { errorCode } from '@ingest/saga-core';
import type { IngestRuntime } from '@ingest/ingest';
import type { FollowUpOutcome } from './lifecycle-followups.ts';
import { log } from './log.ts';
import type { PlannedSubmission } from './plan.ts';

/** What became of one submission. */
export interface SubmissionOutcome {
  planned: PlannedSubmission;
  sagaId: string | null;
  refusedBy: string | null;
  error: string | null;
  attempts: number;
  /** The planned delete or replacement once the saga committed. */
  followUp?: FollowUpOutcome;
}

const ATTEMPT_TIMEOUT_MS = 20_000;
const MAX_ATTEMPTS = 8;

/** Submits one planned saga; never throws. */
export async function submitPlanned(rt: IngestRuntime, planned: PlannedSubmission): Promise<SubmissionOutcome> {
  const body = {
    filePath: planned.file.name,
    metadata: { title: `soak ${planned.index}`, category: 'soak' },
    ...(planned.content ? { content: planned.content } : {}),
    ...(planned.relations ? { relations: planned.relations } : {}),
  };
  let lastError = '';
  // Bounded: MAX_ATTEMPTS tries, each bounded by ATTEMPT_TIMEOUT_MS.
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    try {
      const out = await withTimeout(rt.submit(body, { idempotencyKey: planned.idempotencyKey, requestedBy: 'chaos-soak' }), ATTEMPT_TIMEOUT_MS);
      return { planned, sagaId: out.sagaId, refusedBy: null, error: null, attempts: attempt };
    } catch (err) {
      if (errorCode(err) === 'LOCKED') {
        const holder = (err as { holderSagaId?: string }).holderSagaId ?? 'unknown';
        return { planned, sagaId: null, refusedBy: holder, error: null, attempts: attempt };
      }
      lastError = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      log(`submission ${planned.index} attempt ${attempt} failed (${lastError.slice(0, 160)}); retrying with the same idempotency key`);
      await new Promise((r) => setTimeout(r, 1000 * attempt));
    }
  }
  return { planned, sagaId: null, refusedBy: null, error: lastError, attempts: MAX_ATTEMPTS };
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
    // A late answer (or failure) of the abandoned attempt must not surface as an unhandled rejection.
    p.catch(() => undefined);
  }
}
