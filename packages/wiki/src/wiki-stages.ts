// The wiki saga's state labels (seeds/003's steps 5 and 6) and which may follow which.
import type { StageMachine } from '@ingest/saga-core';

/** initialized -> checking_services -> saving_files -> snapshotting -> completed, with a rollback from anywhere live. */
export const WIKI_STAGES: StageMachine = {
  allowed: {
    initialized: ['checking_services', 'rolling_back'],
    checking_services: ['saving_files', 'rolling_back'],
    saving_files: ['snapshotting', 'rolling_back'],
    snapshotting: ['completed', 'rolling_back'],
    // The engine's default running label, unused by this saga's steps but required of every stage table.
    processing: ['completed', 'rolling_back'],
    completed: [],
    rolling_back: ['rolled_back', 'rollback_failed'],
    rolled_back: [],
    rollback_failed: [],
  },
};
