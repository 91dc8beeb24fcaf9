// Finds chunk prefixes that belong to no live saga and no committed document, older than a grace period,
// and deletes them. The listing is sorted by key, so one operation's chunks are contiguous: only one
// operation's keys are held at a time.
import { eq } from 'drizzle-orm';
import type { Logger } from 'pino';
import { isLiveStatus, type SagaEngine } from '@ingest/saga-core';
import { storageSchema, type ChunkStore, type ListedObject, type Uploader } from '@ingest/storage';
import type { StorageDatabase } from './stores.ts';

/** Collaborators of the reaper. */
export interface OrphanReaperDeps {
  chunkStore: ChunkStore;
  uploader: Uploader;
  engine: SagaEngine;
  db: StorageDatabase;
  logger: Logger;
  /** Root under which every operation's chunks live, e.g. "chunks/". */
  keyPrefix: string;
  graceSeconds: number;
}

/** What a pass removed. */
export interface ReapResult {
  prefixes: string[];
  chunksDeleted: number;
  failed: number;
}

/** One pass over every chunk prefix. */
export async function reapOrphanChunks(deps: OrphanReaperDeps): Promise<ReapResult> {
  const result: ReapResult = { prefixes: [], chunksDeleted: 0, failed: 0 };
  let operationId = '';
  let objects: ListedObject[] = [];
  for await (const obj of deps.chunkStore.list(deps.keyPrefix)) {
    const owner = obj.key.slice(deps.keyPrefix.length).split('/')[0] ?? '';
    if (!owner) continue;
    if (owner !== operationId) {
      if (objects.length > 0) await judge(deps, operationId, objects, result);
      operationId = owner;
      objects = [];
    }
    objects.push(obj);
  }
  if (objects.length > 0) await judge(deps, operationId, objects, result);
  return result;
}

async function judge(deps: OrphanReaperDeps, operationId: string, objects: ListedObject[], result: ReapResult): Promise<void> {
  const newest = Math.max(...objects.map((o) => o.lastModified?.getTime() ?? Date.now()));
  const young = Date.now() - newest < deps.graceSeconds * 1000;
  const [doc] = await deps.db.select({ id: storageSchema.documents.id }).from(storageSchema.documents).where(eq(storageSchema.documents.operationId, operationId)).limit(1);
  if (doc) return;
  const op = await deps.uploader.getOperation(operationId);
  const saga = op ? await deps.engine.get(op.owner).catch(() => null) : null;
  if (saga && isLiveStatus(saga.status)) return;
  // The grace protects uploads we cannot see the owner of. Objects of an operation whose saga ended without a
  // document are garbage at once: a PUT that outlived its rollback (finding F1) lands there.
  if (!saga && young) return;
  const prefix = `${deps.keyPrefix}${operationId}/`;
  const report = await deps.chunkStore.deleteChunks(objects.map((o) => o.key));
  if (op) await deps.uploader.cancelOperation(operationId);
  result.prefixes.push(prefix);
  result.chunksDeleted += report.deletedCount;
  result.failed += report.failedDeletions.length;
  deps.logger.warn({ prefix, deleted: report.deletedCount, failed: report.failedDeletions.length, owner: op?.owner ?? null }, 'reaped orphan chunks');
}
