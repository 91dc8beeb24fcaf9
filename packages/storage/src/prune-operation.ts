// Retention of upload operations: the operation row and manifest rows of an operation whose chunks are verified gone.
import { sql as raw } from 'drizzle-orm';
import type { ChunkStore } from './chunk-store.ts';
import { withDatabaseErrors } from './classify-error.ts';
import type { StorageDb } from './db.ts';
import { findOperation } from './manifest.ts';

/** Collaborators of pruneOperation. */
export interface PruneOperationDeps {
  db: StorageDb;
  chunkStore: ChunkStore;
  /** Manifest rows deleted per statement. */
  batchSize: number;
}

/**
 * What pruning found: `pruned` (rows deleted), `absent` (no operation row), `active` (an upload may still be running:
 * kept), `chunks_remain` (something is still stored under its prefix: kept, so a retry of the cleanup still finds it).
 */
export type PruneOperationOutcome = 'pruned' | 'absent' | 'active' | 'chunks_remain';

/**
 * Deletes an operation's manifest rows and its row once nothing is stored under its prefix any more. The caller
 * vouches that no document is served from it. Short statements only: manifest rows go a batch at a time.
 */
export async function pruneOperation(deps: PruneOperationDeps, operationId: string, options: { signal?: AbortSignal } = {}): Promise<PruneOperationOutcome> {
  const op = await findOperation(deps.db, operationId);
  if (!op) return 'absent';
  if (op.status === 'active') return 'active';
  // The listing is the verification: every chunk (and the bucket manifest object) lives under the prefix.
  for await (const _ of deps.chunkStore.list(op.keyPrefix, options.signal ? { signal: options.signal } : {})) return 'chunks_remain';
  await withDatabaseErrors('prune manifest rows', async () => {
    for (;;) {
      const gone = await deps.db.execute(raw`
        delete from upload_chunks where ctid in (
          select ctid from upload_chunks where operation_id = ${operationId} limit ${deps.batchSize} for update skip locked
        )`);
      if (gone.count < deps.batchSize) break;
    }
    await deps.db.execute(raw`delete from upload_operations where id = ${operationId} and status <> 'active'`);
  }, { operationId });
  return 'pruned';
}
