// The saga engine of a runtime, with the sagas this fleet runs: ingestion and document deletion always, wiki
// generation when its services are configured. Every app that builds a runtime needs it (to start, read, maintain or run sagas).
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { createSagaEngine, type SagaEngine } from '@ingest/saga-core';
import { wikiSaga } from '@ingest/wiki';
import type { IngestConfig } from './config.ts';
import { deleteSaga } from './delete-saga.ts';
import type { DocumentLifecycle } from './document-lifecycle.ts';
import type { DocumentVersions } from './document-versions.ts';
import { ingestSaga } from './ingest-saga.ts';
import { CHUNK_PREFIX, type IngestStorage } from './ingest-storage.ts';
import type { PostgresPools } from './postgres-pools.ts';
import { wikiClientsFromConfig } from './wiki-clients.ts';

/** The engine, the upload-bytes events its ingestion steps emit, and close() for the wiki clients. */
export interface IngestEngine {
  engine: SagaEngine;
  /** Emits 'bytes' (a number) as uploads store chunks: the worker's throughput metric. */
  uploads: EventEmitter;
  close(): Promise<void>;
}

/** What the document lifecycle gives the sagas: its versions, and the retirement of a replaced version. */
export interface LifecycleParts {
  versions: DocumentVersions;
  /** Late-bound: the lifecycle needs the engine, which needs the sagas. */
  retireVersion: DocumentLifecycle['retireVersion'];
}

/** Creates the engine over `pools.sql` (checking its schema) and Redis, with the fleet's sagas registered. */
export async function buildIngestEngine(config: IngestConfig, pools: PostgresPools, storage: IngestStorage, lifecycle: LifecycleParts, logger: Logger): Promise<IngestEngine> {
  const uploads = new EventEmitter();
  // The wiki-generation saga (packages/wiki) runs in the same fleet when its services are configured.
  const wikiClients = wikiClientsFromConfig(config);
  const engine = await createSagaEngine({
    sql: pools.sql,
    redisUrl: config.REDIS_URL,
    redisCluster: config.REDIS_CLUSTER,
    redisSeeds: config.REDIS_CLUSTER_NODES,
    sagas: [
      ingestSaga({
        config,
        uploader: storage.uploader,
        stores: storage.stores,
        leftoverStores: storage.leftoverStores,
        versions: lifecycle.versions,
        retireVersion: lifecycle.retireVersion,
        onUploadedBytes: (bytes) => uploads.emit('bytes', bytes),
      }),
      deleteSaga({ config, stores: storage.stores, versions: lifecycle.versions, leftoverStores: storage.leftoverStores, chunkPrefix: CHUNK_PREFIX }),
      ...(wikiClients ? [wikiSaga({ ...wikiClients, maxFileBytes: config.WIKI_MAX_FILE_BYTES, attempts: config.STORE_RETRY_ATTEMPTS, backoffMs: config.STORE_RETRY_BACKOFF_MS })] : []),
    ],
    prefix: config.QUEUE_PREFIX,
    logger,
    leaseMs: config.STEP_LEASE_MS,
    // An aborted upload waits for its PUTs in flight (each bounded by the S3 call timeout) before it returns;
    // the saga must not start deleting chunks before then.
    abortGraceMs: config.S3_CALL_TIMEOUT_MS + 15_000,
    defaultTimeoutSeconds: config.SAGA_TIMEOUT_SECONDS,
  });
  return {
    engine,
    uploads,
    async close() {
      await engine.close();
      wikiClients?.filesystem.shutdown();
      wikiClients?.git.shutdown();
    },
  };
}
