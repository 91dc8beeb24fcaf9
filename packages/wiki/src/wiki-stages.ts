// The wiki saga's state labels (seeds/003's steps 5 and 6) and which may follow which.
import type { StageMachine } from '@ingest/saga-core';

/** initialized -> saving_files -> snapshotting -> completed, with a rollback from anywhere live. */
export const WIKI_STAGES: StageMachine = {
  allowed: {
    initialized: ['saving_files', 'rolling_back'],
    saving_files: ['snapshotting', 'rolling_back'],
    snapshotting: ['completed', 'rolling_back'],
    completed: [],
    rolling_back: ['rolled_back', 'rollback_failed'],
    rolled_back: [],
    rollback_failed: [],
  },
};
