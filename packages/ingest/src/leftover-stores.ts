// The ingestion saga's store registry: every store a compensation may leave something in, with its undo (the
// janitor's retry) and its existence check (the consistency checker), so both resolve a leftover the same way.
import { and, count, eq } from 'drizzle-orm';
import type { Sql } from 'postgres';
import type { LeftoverStore, StoreRegistry } from '@ingest/saga-core';
import { storageSchema, type ChunkStore, type Uploader } from '@ingest/storage';
import { countRowsIn } from './store-rows.ts';
import { isUuid } from './uuid.ts';
import type { RowStore } from './invariants/violation.ts';
import { storageDatabase, type DownstreamStores, type StorageDatabase } from './stores.ts';

const { uploadOperations, securityAudit } = storageSchema;

/** Names of the stores the ingestion saga records leftovers under. `chunked_upload` is the engine's fallback (step name, saga id). */
export const INGEST_STORE_NAMES = ['s3-chunk', 's3-prefix', 'relational', 'vector', 'graph', 'security', 'security-audit', 'upload-operation', 'lock', 'chunked_upload'] as const;

/** A store the ingestion saga may leave something in. */
export type IngestStore = (typeof INGEST_STORE_NAMES)[number];

/** What the registry reads and writes through. */
export interface IngestStoreDeps {
  /** The bucket holding the chunks. */
  chunkStore: ChunkStore;
  /** upload_operations and upload_chunks (DATABASE_URL). */
  sql: Sql;
  /** Each downstream store's database when separate; an omitted one is `sql`. */
  storeSql?: Partial<Record<RowStore, Sql>>;
  /** What undo needs; a process that only checks (the consistency checker) passes none, and undo then refuses. */
  cleanup?: { uploader: Uploader; stores: DownstreamStores };
}

/** Builds the registry the ingestion saga declares (and the checker consults). */
export function ingestStoreRegistry(deps: IngestStoreDeps): StoreRegistry<IngestStore> {
  const uploadDb = storageDatabase(deps.sql);
  const dbs = new Map<RowStore, StorageDatabase>();
  const storeDb = (store: RowStore): StorageDatabase => {
    const sql = deps.storeSql?.[store];
    if (!sql) return uploadDb;
    let db = dbs.get(store);
    if (!db) dbs.set(store, (db = storageDatabase(sql)));
    return db;
  };
  const cleanup = () => {
    if (!deps.cleanup) throw new Error('this process only checks leftovers; it cannot undo them');
    return deps.cleanup;
  };
  const deleteOperation = async (operationId: string, what: string) => {
    const report = await cleanup().uploader.deleteOperationChunks(operationId);
    if (report.failedDeletions.length > 0) throw new Error(`${report.failedDeletions.length} objects of ${what} still undeletable`);
  };
  const anyUnder = async (prefix: string, signal: AbortSignal | undefined) => {
    for await (const _ of deps.chunkStore.list(prefix, signal ? { signal } : {})) return true;
    return false;
  };
  const rows = (store: RowStore): LeftoverStore => ({
    undo: (key) => cleanup().stores[store].remove(key).then(() => undefined),
    exists: async (key) => (await countRowsIn(storeDb(store), store, key)) > 0,
  });
  return {
    's3-chunk': {
      // Through the operation when known, so its manifest row goes with the object.
      async undo(key, { details }) {
        const { uploader } = cleanup();
        const operationId = details?.operationId;
        const report = typeof operationId === 'string' ? await uploader.deleteOperationChunks(operationId) : await deps.chunkStore.deleteChunks([key]);
        const failed = report.failedDeletions.find((f) => f.key === key) ?? report.failedDeletions[0];
        if (failed) throw new Error(`${failed.key}: ${failed.error}`);
      },
      exists: (key, { signal }) => deps.chunkStore.exists(key, signal ? { signal } : {}),
    },
    // Everything under an operation's prefix, listed when the store is back.
    's3-prefix': {
      async undo(key, { details }) {
        const operationId = details?.operationId;
        if (typeof operationId !== 'string') throw new Error(`leftover ${key} names no operation`);
        await deleteOperation(operationId, key);
      },
      exists: (key, { signal }) => anyUnder(key, signal),
    },
    relational: rows('relational'),
    vector: rows('vector'),
    graph: rows('graph'),
    security: rows('security'),
    // The undo of `finalize` appends a 'failed' entry; the leftover is that entry still missing.
    'security-audit': {
      undo: (key) => cleanup().stores.security.audit(key, 'failed', 'janitor', { reason: 'compensation retried by the janitor' }).then(() => undefined),
      async exists(key) {
        if (!isUuid(key)) return false;
        const found = await storeDb('security')
          .select({ n: count() })
          .from(securityAudit)
          .where(and(eq(securityAudit.documentId, key), eq(securityAudit.action, 'failed')));
        return Number(found[0]?.n ?? 0) === 0;
      },
    },
    'upload-operation': {
      undo: (key) => cleanup().uploader.cancelOperation(key).then(() => undefined),
      async exists(key) {
        const [op] = await uploadDb.select({ status: uploadOperations.status }).from(uploadOperations).where(eq(uploadOperations.id, key));
        return op?.status === 'active';
      },
    },
    // Held in Redis, which a checker does not read: trusted.
    lock: {
      async undo(key, leftover) {
        await leftover.releaseExclusivity(key);
      },
      exists: async () => true,
    },
    // A compensation that failed without naming its leftovers (the engine's fallback: step name, saga id); the
    // upload's operation id is the saga id.
    chunked_upload: {
      undo: (key) => deleteOperation(key, `operation ${key}`),
      async exists(key, { signal }) {
        const [op] = await uploadDb.select({ keyPrefix: uploadOperations.keyPrefix }).from(uploadOperations).where(eq(uploadOperations.id, key));
        // Without its operation row the prefix is unknown: trusted.
        return op ? anyUnder(op.keyPrefix, signal) : true;
      },
    },
  };
}
