// Wires configuration into one process's ingestion runtime: connections, stores, engine, saga, janitor pass.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Sql } from 'postgres';
import pino, { type Logger } from 'pino';
import { SagaNotFoundError, createSagaEngine, toError } from '@ingest/saga-core';
import { deliverAlerts, recordHeartbeat } from '@ingest/ops';
import { createChunkStore, createS3Client, createUploader } from '@ingest/storage';
import { checkIngestSchema } from './schema.ts';
import { wikiSaga } from '@ingest/wiki';
import { wikiClientsFromConfig } from './wiki-clients.ts';
import type { IngestConfig } from './config.ts';
import { DocumentNotFoundError } from './errors.ts';
import { INGEST_SAGA, ingestSaga, type IngestInput } from './ingest-saga.ts';
import { ingestStoreRegistry } from './leftover-stores.ts';
import { reapOrphanChunks } from './orphan-reaper.ts';
import { encodingFromConfig } from './at-rest-encoding.ts';
import { parseIngestRequest } from './request.ts';
import { connectPostgres } from './postgres-client.ts';
import { resolveSource } from './source-path.ts';
import { checkSourceRoot } from './source-root-check.ts';
import { toIngestionStatus } from './status.ts';
import { createDownstreamStores, storageDatabase } from './stores.ts';
import type { DocumentView, HealthReport, IngestRuntime, JanitorSummary, SubmitOptions } from './types.ts';

/** Options of createIngestRuntime. */
export interface IngestRuntimeOptions {
  /** Default: pino at config.LOG_LEVEL. */
  logger?: Logger;
  /** Which app this is; only logged. */
  role?: 'producer' | 'worker' | 'janitor' | 'test';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CHUNK_PREFIX = 'chunks/';

/** Connects, checks the schema version, and returns the runtime; close() releases everything. */
export async function createIngestRuntime(config: IngestConfig, options: IngestRuntimeOptions = {}): Promise<IngestRuntime> {
  const logger = (options.logger ?? pino({ level: config.LOG_LEVEL })).child({ role: options.role ?? 'app' });
  const clients = new Map<string, Sql>();
  const client = (url: string): Sql => {
    let c = clients.get(url);
    if (!c) {
      c = connectPostgres(config, url, 20);
      clients.set(url, c);
    }
    return c;
  };
  const sql = client(config.DATABASE_URL);
  const storeUrls = {
    relational: config.RELATIONAL_DATABASE_URL ?? config.DATABASE_URL,
    vector: config.VECTOR_DATABASE_URL ?? config.DATABASE_URL,
    graph: config.GRAPH_DATABASE_URL ?? config.DATABASE_URL,
    security: config.SECURITY_DATABASE_URL ?? config.DATABASE_URL,
  };
  try {
    // npm run migrate applies the schema; an app only checks it (SchemaVersionError when behind).
    await checkIngestSchema(config, client, logger);
  } catch (err) {
    // A start-up that fails here may be retried (startIngestRuntime): leave no pool behind.
    await Promise.all([...clients.values()].map((c) => c.end({ timeout: 1 })));
    throw err;
  }

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
    sql,
    chunkStore,
    chunkSizeBytes: config.CHUNK_SIZE_BYTES,
    concurrency: config.UPLOAD_CONCURRENCY,
    keyPrefix: CHUNK_PREFIX,
    logger,
    sourceRoot: config.SOURCE_ROOT,
    encoding: encodingFromConfig(config),
  });
  const stores = createDownstreamStores(config, {
    relational: client(storeUrls.relational),
    vector: client(storeUrls.vector),
    graph: client(storeUrls.graph),
    security: client(storeUrls.security),
  });
  const leftoverStores = ingestStoreRegistry({
    chunkStore,
    sql,
    storeSql: { relational: client(storeUrls.relational), vector: client(storeUrls.vector), graph: client(storeUrls.graph), security: client(storeUrls.security) },
    cleanup: { uploader, stores },
  });
  // Upload throughput for whoever exports metrics (the worker); listeners are wrapped so one that throws is harmless.
  const uploads = new EventEmitter();
  // The wiki-generation saga (packages/wiki) runs in the same fleet when its services are configured.
  const wikiClients = wikiClientsFromConfig(config);
  const engine = await createSagaEngine({
    sql,
    redisUrl: config.REDIS_URL,
    redisCluster: config.REDIS_CLUSTER,
    redisSeeds: config.REDIS_CLUSTER_NODES,
    sagas: [
      ingestSaga({ config, uploader, stores, leftoverStores, onUploadedBytes: (bytes) => uploads.emit('bytes', bytes) }),
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
  const relationalDb = storageDatabase(client(storeUrls.relational));

  const findDocument = async (documentId: string) => {
    if (!UUID.test(documentId)) throw new DocumentNotFoundError(documentId);
    const doc = await stores.relational.get(documentId);
    if (!doc) throw new DocumentNotFoundError(documentId);
    return doc;
  };

  const runtime: IngestRuntime = {
    config,
    engine,
    logger,

    async submit(body, o: SubmitOptions = {}) {
      const request = parseIngestRequest(body);
      const limits = { maxBytes: config.MAX_FILE_BYTES };
      const source = await resolveSource(config.SOURCE_ROOT, request.filePath, 'filePath', limits);
      const text = request.textPath ? await resolveSource(config.SOURCE_ROOT, request.textPath, 'textPath', limits) : undefined;
      const sagaId = randomUUID();
      const input: IngestInput = {
        documentId: randomUUID(),
        operationId: sagaId,
        filePath: request.filePath,
        sourcePath: source.realPath,
        lockKey: `file:${source.realPath}`,
        sizeBytes: source.sizeBytes,
        mtimeMs: source.mtimeMs,
        sourceIdentity: source.identity,
        metadata: request.metadata,
        ...(text ? { textPath: text.relativePath, textSourcePath: text.realPath, textIdentity: text.identity } : {}),
        ...(request.content ? { content: request.content } : {}),
        ...(request.relations ? { relations: request.relations } : {}),
        requestedBy: o.requestedBy ?? 'unknown',
        requestedAt: new Date().toISOString(),
      };
      return engine.start(INGEST_SAGA, input, {
        sagaId,
        ...(o.idempotencyKey ? { idempotencyKey: o.idempotencyKey } : {}),
      });
    },

    async status(sagaId) {
      if (!UUID.test(sagaId)) throw new SagaNotFoundError(sagaId);
      return toIngestionStatus(await engine.get(sagaId));
    },

    async events(sagaId, o) {
      if (!UUID.test(sagaId)) throw new SagaNotFoundError(sagaId);
      return engine.events(sagaId, o);
    },

    async cancel(sagaId) {
      if (!UUID.test(sagaId)) throw new SagaNotFoundError(sagaId);
      return engine.cancel(sagaId);
    },

    stats: () => engine.stats(),

    onUploadedBytes(listener) {
      uploads.on('bytes', (bytes: number) => {
        try {
          listener(bytes);
        } catch (err) {
          logger.warn({ err: toError(err) }, 'upload bytes listener threw');
        }
      });
    },

    async getDocument(documentId): Promise<DocumentView> {
      const d = await findDocument(documentId);
      const meta = (d.metadata ?? {}) as Record<string, unknown>;
      return {
        documentId: d.id,
        sagaId: typeof meta.sagaId === 'string' ? meta.sagaId : null,
        title: d.title,
        category: d.category,
        securityLevel: d.securityLevel,
        sourcePath: d.sourcePath,
        sizeBytes: d.size,
        sha256: d.sha256,
        chunkCount: d.chunkCount,
        metadata: meta,
        createdAt: d.createdAt.toISOString(),
      };
    },

    async openDocumentContent(documentId) {
      const d = await findDocument(documentId);
      if (!d.operationId) throw new DocumentNotFoundError(documentId);
      return { stream: await uploader.openReadStream(d.operationId), sizeBytes: d.size, sha256: d.sha256 };
    },

    startWorkers: (o = {}) =>
      engine.startWorkers({
        concurrency: o.concurrency ?? config.WORKER_CONCURRENCY,
        ...(o.queues ? { queues: o.queues } : {}),
        // A SIGKILLed worker's job is re-delivered once BullMQ's lock lapses and its stalled check runs: tie both
        // to the step lease, so a crashed step is taken over after about one lease, not BullMQ's 30 s defaults.
        lockDurationMs: config.STEP_LEASE_MS,
        stalledIntervalMs: config.STEP_LEASE_MS,
      }),

    pauseWorkers: () => engine.pauseWorkers(),
    resumeWorkers: () => engine.resumeWorkers(),

    async janitorPass(): Promise<JanitorSummary> {
      const started = Date.now();
      const maintenance = await engine.maintain({ idleMs: config.STUCK_AFTER_SECONDS * 1000 });
      const cleanups = await engine.retryFailedCleanups();
      const reaped = await reapOrphanChunks({
        chunkStore,
        uploader,
        engine,
        db: relationalDb,
        logger,
        keyPrefix: CHUNK_PREFIX,
        graceSeconds: config.ORPHAN_GRACE_SECONDS,
      });
      // The janitor is the backstop of alert delivery: workers deliver within seconds, but a fleet with no worker
      // running still gets its alerts out.
      const alerts = (await runtime.deliverAlerts()) ?? { attempted: 0, delivered: 0, failed: 0 };
      const summary: JanitorSummary = {
        cleanups,
        alerts,
        relayed: maintenance.relayed,
        redispatched: maintenance.redispatched,
        rolledBackOverdue: maintenance.rolledBackOverdue,
        releasedLocks: maintenance.releasedLocks,
        orphanChunksDeleted: reaped.chunksDeleted,
        orphanPrefixes: reaped.prefixes,
        durationMs: Date.now() - started,
      };
      // What the "no janitor pass" alert watches (ingest_janitor_last_pass_timestamp_seconds): only a finished pass counts.
      await recordHeartbeat(sql, 'janitor_pass', { durationMs: summary.durationMs });
      return summary;
    },

    async retryCleanup(id) {
      const r = await engine.retryFailedCleanups({ ids: [id], limit: 1 });
      return { attempted: r.attempted === 1, resolved: r.resolved === 1 };
    },

    async deliverAlerts() {
      if (config.ALERT_WEBHOOK_URL === undefined) return null;
      return deliverAlerts({
        sql,
        webhookUrl: config.ALERT_WEBHOOK_URL,
        format: config.ALERT_WEBHOOK_FORMAT,
        baseBackoffMs: config.ALERT_RETRY_BACKOFF_MS,
        logger,
      });
    },

    async checkHealth(): Promise<HealthReport> {
      const checks: Record<string, string> = {};
      const probe = async (name: string, fn: () => Promise<unknown>) => {
        try {
          await Promise.race([fn(), new Promise((_, r) => setTimeout(() => r(new Error('timed out after 2000 ms')), 2000))]);
          checks[name] = 'ok';
        } catch (err) {
          checks[name] = toError(err).message;
        }
      };
      await Promise.all([
        probe('postgres', () => sql`select 1`),
        probe('redis', () => engine.pingRedis()),
        probe('s3', () => chunkStore.exists('healthz-probe')),
        probe('source_root', () => checkSourceRoot(config.SOURCE_ROOT)),
      ]);
      return { ok: Object.values(checks).every((v) => v === 'ok'), checks };
    },

    async close() {
      await engine.close();
      chunkStore.close();
      wikiClients?.filesystem.shutdown();
      wikiClients?.git.shutdown();
      for (const c of clients.values()) await c.end({ timeout: 5 });
    },
  };
  logger.info({ sourceRoot: config.SOURCE_ROOT, queuePrefix: config.QUEUE_PREFIX }, 'ingestion runtime ready');
  return runtime;
}
