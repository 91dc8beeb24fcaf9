// The state one checker run shares between its scans: typed database handles, options, counters, the violation sink.
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import { sagaSchema, type StoreRegistry } from '@ingest/saga-core';
import type { ChunkStore, KeyProvider } from '@ingest/storage';
import { DELETE_SAGA } from '../delete-saga.ts';
import { INGEST_SAGA } from '../ingest-saga.ts';
import { ingestStoreRegistry } from '../leftover-stores.ts';
import { storageDatabase, type StorageDatabase } from '../stores.ts';
import type { InvariantDeps, ResolvedInvariantOptions } from './invariant-deps.ts';
import { VIOLATION_KINDS, type InvariantScanCounts, type RowStore, type Violation, type ViolationKind } from './violation.ts';

/** Drizzle over the engine's tables. */
export type SagaDatabase = PostgresJsDatabase<typeof sagaSchema>;

/** What every scan of one run sees. */
export interface CheckContext {
  /** saga_instances, saga_steps, failed_cleanups (DATABASE_URL). */
  sagaDb: SagaDatabase;
  /** upload_operations and upload_chunks (DATABASE_URL). */
  uploadDb: StorageDatabase;
  /** The database of one downstream store. */
  storeDb(store: RowStore): StorageDatabase;
  chunkStore: ChunkStore;
  /** Store registries by saga name: where a leftover is looked up. */
  leftoverStores: Readonly<Record<string, StoreRegistry>>;
  keyProvider: KeyProvider | undefined;
  options: ResolvedInvariantOptions;
  counts: InvariantScanCounts;
  /** Records a violation (kept up to maxViolations, always counted and passed on). */
  report(violation: Violation): void;
  /** Throws when the run was aborted; scans call it between pages. */
  checkAborted(): void;
  readonly kept: Violation[];
  readonly byKind: Record<ViolationKind, number>;
  readonly total: number;
}

/** Builds the context of one run. */
export function createCheckContext(deps: InvariantDeps, options: ResolvedInvariantOptions): CheckContext {
  const uploadDb = storageDatabase(deps.sql);
  const stores = new Map<RowStore, StorageDatabase>();
  const kept: Violation[] = [];
  const byKind = Object.fromEntries(VIOLATION_KINDS.map((k) => [k, 0])) as Record<ViolationKind, number>;
  let total = 0;
  return {
    sagaDb: drizzle(deps.sql, { schema: sagaSchema }),
    uploadDb,
    storeDb(store) {
      const sql = deps.storeSql?.[store];
      if (!sql) return uploadDb;
      let db = stores.get(store);
      if (!db) {
        db = storageDatabase(sql);
        stores.set(store, db);
      }
      return db;
    },
    chunkStore: deps.chunkStore,
    leftoverStores: deps.leftoverStores ?? defaultRegistries(deps),
    keyProvider: deps.keyProvider,
    options,
    counts: {
      sagas: 0,
      liveSagas: 0,
      completedSagas: 0,
      documentsVerified: 0,
      chunksVerified: 0,
      objectsListed: 0,
      operationsListed: 0,
      rowDocuments: 0,
      leftoversChecked: 0,
    },
    report(violation) {
      total += 1;
      byKind[violation.kind] += 1;
      if (kept.length < options.maxViolations) kept.push(violation);
      options.onViolation?.(violation);
    },
    checkAborted() {
      if (options.signal?.aborted) throw options.signal.reason instanceof Error ? options.signal.reason : new Error('consistency check aborted');
    },
    kept,
    byKind,
    get total() {
      return total;
    },
  };
}

// The deletion saga records its leftovers in the ingestion saga's stores, through the same registry.
function defaultRegistries(deps: InvariantDeps): Readonly<Record<string, StoreRegistry>> {
  const registry = ingestStoreRegistry({ sql: deps.sql, chunkStore: deps.chunkStore, ...(deps.storeSql ? { storeSql: deps.storeSql } : {}) });
  return { [INGEST_SAGA]: registry, [DELETE_SAGA]: registry };
}
