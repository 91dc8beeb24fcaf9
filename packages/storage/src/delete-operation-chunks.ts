// Verified cleanup of an operation: every chunk the manifest knows plus anything under its prefix, each checked gone.
import type { Logger } from 'pino';
import type { StorageDb } from './db.ts';
import type { ChunkStore, DeletionReport } from './chunk-store.ts';
import { deleteManifestRows, findOperation, manifestRows, markCancelled } from './manifest.ts';

/** Collaborators of the cleanup. */
export interface DeleteChunksDeps {
  db: StorageDb;
  chunkStore: ChunkStore;
  manifestPageSize: number;
  logger: Logger | undefined;
}

/**
 * Deletes the operation's chunks and reports what is left. An active operation is cancelled first so that an
 * upload still running stops at its next chunk. Manifest rows of chunks confirmed gone are removed; rows of
 * chunks that survived stay, so a retry finds them. Unknown operations yield an empty report (idempotent).
 */
export async function deleteOperationChunks(deps: DeleteChunksDeps, operationId: string, options: { signal?: AbortSignal } = {}): Promise<DeletionReport> {
  const op = await findOperation(deps.db, operationId);
  if (!op) return { deletedCount: 0, totalChunks: 0, failedDeletions: [], successRate: 1 };
  if (op.status === 'active') await markCancelled(deps.db, operationId);
  const callOptions = options.signal ? { signal: options.signal } : {};
  // Keys, not bytes: a few dozen bytes per chunk even for the largest documents.
  const keys = new Set<string>();
  for await (const row of manifestRows(deps.db, operationId, deps.manifestPageSize)) keys.add(row.key);
  // Listing catches chunks stored whose manifest row never committed (a crash between PUT and commit).
  for await (const object of deps.chunkStore.list(op.keyPrefix, callOptions)) keys.add(object.key);
  const report = await deps.chunkStore.deleteChunks([...keys], callOptions);
  await deleteManifestRows(deps.db, operationId, report.failedDeletions.map((f) => f.key));
  deps.logger?.info(
    { operationId, deleted: report.deletedCount, total: report.totalChunks, failed: report.failedDeletions.length },
    'operation chunks deleted',
  );
  return report;
}
