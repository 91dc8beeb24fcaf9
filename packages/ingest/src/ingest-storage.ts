// What the ingestion saga stores into: the S3 chunk store, the uploader over it, the four downstream stores and the
// typed leftover registry built from them. Every app but the checker builds it; only a worker needs the embedder.
import type { Logger } from 'pino';
import { createChunkStore, createS3Client, createUploader, type ChunkStore, type Uploader } from '@ingest/storage';
import { encodingFromConfig } from './at-rest-encoding.ts';
import type { IngestConfig } from './config.ts';
import { IngestError } from './errors.ts';
import { ingestStoreRegistry } from './leftover-stores.ts';
import type { PostgresPools } from './postgres-pools.ts';
import { createDownstreamStores, storageDatabase, type DownstreamStores, type StorageDatabase } from './stores.ts';

/** Where uploaded chunks live in the bucket. */
export const CHUNK_PREFIX = 'chunks/';

/** The storage side of a runtime. */
export interface IngestStorage {
  chunkStore: ChunkStore;
  uploader: Uploader;
  stores: DownstreamStores;
  leftoverStores: ReturnType<typeof ingestStoreRegistry>;
  /** Typed queries over the relational store's tables (documents, the orphan scan). */
  relationalDb: StorageDatabase;
  close(): void;
}

/** Builds the stores over `pools`. Without `embedder`, the vector store can remove and count but not embed. */
export function buildIngestStorage(config: IngestConfig, pools: PostgresPools, logger: Logger, parts: { embedder: boolean }): IngestStorage {
  const chunkStore = createChunkStore({
    client: createS3Client({
      endpoint: config.S3_ENDPOINT,
      region: config.S3_REGION,
      accessKeyId: config.S3_ACCESS_KEY_ID,
      secretAccessKey: config.S3_SECRET_ACCESS_KEY,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
    }),
    bucket: config.S3_BUCKET,
    callTimeoutMs: config.S3_CALL_TIMEOUT_MS,
    logger,
  });
  const uploader = createUploader({
    sql: pools.sql,
    chunkStore,
    chunkSizeBytes: config.CHUNK_SIZE_BYTES,
    concurrency: config.UPLOAD_CONCURRENCY,
    keyPrefix: CHUNK_PREFIX,
    logger,
    sourceRoot: config.SOURCE_ROOT,
    encoding: encodingFromConfig(config),
  });
  const stores = createDownstreamStores(config, pools.storeSql, parts.embedder ? undefined : noEmbedder);
  return {
    chunkStore,
    uploader,
    stores,
    leftoverStores: ingestStoreRegistry({ chunkStore, sql: pools.sql, storeSql: pools.storeSql, cleanup: { uploader, stores } }),
    relationalDb: storageDatabase(pools.storeSql.relational),
    close: () => chunkStore.close(),
  };
}

// Producer and janitor never run the vector_insert action (workers do): their vector store only removes rows.
const noEmbedder = {
  model: 'none',
  dimensions: undefined,
  embed(): Promise<number[][]> {
    return Promise.reject(new IngestError('NOT_IN_THIS_APP', 'this app builds no embedder: only a worker embeds text'));
  },
};
