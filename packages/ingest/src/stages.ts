// The ingestion saga's state labels (seeds/001) and which may follow which: the engine only knows running,
// compensating and ended; this table is what the status body's `state` reports and what every change is checked against.
import type { StageMachine } from '@ingest/saga-core';

const INTERRUPTED = new Set(['upload_failed', 'upload_paused', 'resume_failed']);

/** seeds/001's table, plus initialized -> processing for a saga without an upload phase. */
export const INGEST_STAGES: StageMachine = {
  allowed: {
    initialized: ['uploading', 'processing', 'rolling_back'],
    uploading: ['upload_paused', 'upload_failed', 'verifying', 'rolling_back'],
    upload_paused: ['resuming', 'rolling_back'],
    upload_failed: ['resuming', 'rolling_back'],
    resuming: ['uploading', 'resume_failed', 'rolling_back'],
    resume_failed: ['resuming', 'rolling_back'],
    verifying: ['verify_failed', 'processing', 'rolling_back'],
    verify_failed: ['rolling_back'],
    processing: ['completed', 'rolling_back'],
    completed: [],
    rolling_back: ['rolled_back', 'rollback_failed'],
    rolled_back: [],
    rollback_failed: [],
  },
  // A retried or paused upload goes back to uploading through resuming.
  via: (from, to) => (to === 'uploading' && INTERRUPTED.has(from) ? ['resuming', 'uploading'] : undefined),
  retrying: (from) => (from === 'uploading' ? 'upload_failed' : undefined),
  paused: (from) => (from === 'uploading' ? 'upload_paused' : undefined),
  // A failed integrity check is recorded as verify_failed before the rollback.
  failed: (from) => (from === 'verifying' ? 'verify_failed' : undefined),
};
