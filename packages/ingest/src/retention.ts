// Retention, run by the janitor: the engine prunes delivered outbox rows and the history of ended sagas, and an
// ended ingestion's upload operation goes with it unless a document is served from it, once its chunks are verified gone.
import { inArray } from 'drizzle-orm';
import type { Logger } from 'pino';
import { toError, type EndedSagaRef, type SagaEngine } from '@ingest/saga-core';
import { storageSchema, type Uploader } from '@ingest/storage';
import { INGEST_SAGA } from './ingest-saga.ts';
import type { StorageDatabase } from './stores.ts';

/** Collaborators and settings of a retention pass. */
export interface RetentionDeps {
  engine: SagaEngine;
  uploader: Uploader;
  /** Where the documents rows live (RELATIONAL_DATABASE_URL). */
  documentsDb: StorageDatabase;
  logger: Logger;
  /** SAGA_HISTORY_DAYS. */
  historyDays: number;
  /** RETENTION_BATCH_SIZE. */
  batchSize: number;
  /** RETENTION_MAX_BATCHES: per kind of row, per pass. */
  maxBatches: number;
}

/** What one retention pass removed (the janitor's summary). */
export interface RetentionSummary {
  /** Delivered outbox rows deleted. */
  outboxDelivered: number;
  /** Ended sagas whose history went. */
  sagasPruned: number;
  /** Of those, sagas that had not completed, whose row went too. */
  sagasForgotten: number;
  /** Steps, events, outbox rows and resolved leftovers deleted with them. */
  historyRows: number;
  /** Upload operations (row and manifest) of ended sagas deleted, their chunks verified gone. */
  operationsPruned: number;
  /** Due sagas kept for now: their operation still has chunks stored, is still active, or could not be checked. */
  held: number;
}

const DAY_MS = 86_400_000;

/** One bounded retention pass. */
export async function applyRetention(deps: RetentionDeps): Promise<RetentionSummary> {
  let operationsPruned = 0;
  const result = await deps.engine.pruneHistory({
    retainMs: deps.historyDays * DAY_MS,
    batchSize: deps.batchSize,
    maxBatches: deps.maxBatches,
    release: async (sagas) => {
      const { released, pruned } = await releaseOperations(deps, sagas);
      operationsPruned += pruned;
      return released;
    },
  });
  return { ...result, operationsPruned };
}

/** The sagas whose upload operation is settled: served by a document (kept), or pruned now, or already gone. */
async function releaseOperations(deps: RetentionDeps, sagas: readonly EndedSagaRef[]): Promise<{ released: string[]; pruned: number }> {
  const released: string[] = [];
  const owned = new Map<string, string>();
  for (const s of sagas) {
    const operationId = s.name === INGEST_SAGA ? operationOf(s.input) : undefined;
    if (operationId) owned.set(s.id, operationId);
    else released.push(s.id);
  }
  if (owned.size === 0) return { released, pruned: 0 };
  const { documents } = storageSchema;
  const served = new Set(
    (await deps.documentsDb.select({ operationId: documents.operationId }).from(documents).where(inArray(documents.operationId, [...owned.values()]))).map((d) => d.operationId),
  );
  let pruned = 0;
  for (const [sagaId, operationId] of owned) {
    // A committed document's content is served from its manifest: its saga's history may go, the manifest stays.
    if (served.has(operationId)) {
      released.push(sagaId);
      continue;
    }
    try {
      const outcome = await deps.uploader.pruneOperation(operationId);
      if (outcome === 'pruned') pruned++;
      if (outcome === 'pruned' || outcome === 'absent') released.push(sagaId);
    } catch (err) {
      deps.logger.warn({ err: toError(err), sagaId, operationId }, 'retention could not check an operation; its saga is kept until a later pass');
    }
  }
  return { released, pruned };
}

function operationOf(input: unknown): string | undefined {
  const id = (input as { operationId?: unknown } | null)?.operationId;
  return typeof id === 'string' ? id : undefined;
}
