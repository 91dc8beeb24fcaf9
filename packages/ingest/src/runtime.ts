// Wires configuration into one process's ingestion runtime, from small builders (pools, storage, engine) composed per
// app: each app builds only what it uses (APP_PARTS).
import { randomUUID } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { SagaNotFoundError, toError } from '@ingest/saga-core';
import { deliverAlerts, recordHeartbeat } from '@ingest/ops';
import { checkIngestSchema } from './schema.ts';
import type { IngestConfig } from './config.ts';
import { DocumentDeletingError, DocumentNotFoundError, IngestError } from './errors.ts';
import { INGEST_SAGA, type IngestInput } from './ingest-saga.ts';
import { buildIngestEngine } from './ingest-engine.ts';
import { CHUNK_PREFIX, buildIngestStorage } from './ingest-storage.ts';
import { reapOrphanChunks } from './orphan-reaper.ts';
import { applyRetention } from './retention.ts';
import { createDocumentLifecycle, toDocumentView, type DocumentLifecycle } from './document-lifecycle.ts';
import { listDocuments, parseDocumentListQuery } from './document-listing.ts';
import { createDocumentVersions } from './document-versions.ts';
import { openPostgresPools } from './postgres-pools.ts';
import { parseIngestRequest } from './request.ts';
import { resolveSource } from './source-path.ts';
import { checkSourceRoot } from './source-root-check.ts';
import { toIngestionStatus } from './status.ts';
import { isUuid } from './uuid.ts';
import type { DocumentView, HealthReport, IngestRuntime, JanitorSummary, SubmitOptions } from './types.ts';

/** Options of createIngestRuntime. */
export interface IngestRuntimeOptions {
  /** Default: pino at config.LOG_LEVEL. */
  logger?: Logger;
  /** Which app this is: decides what is built (APP_PARTS). Default: everything (tests, tools). */
  role?: 'producer' | 'worker' | 'janitor' | 'test';
}

/**
 * What each app builds beyond the pools, storage and engine that all of them use. Producer and janitor never run a
 * step (no BullMQ consumers, no embedder: only the vector_insert action embeds); the worker runs them all.
 */
const APP_PARTS = {
  producer: { embedder: false, workers: false },
  janitor: { embedder: false, workers: false },
  worker: { embedder: true, workers: true },
  test: { embedder: true, workers: true },
} as const;

/** Connects, checks the schema version, and returns the runtime; close() releases everything. */
export async function createIngestRuntime(config: IngestConfig, options: IngestRuntimeOptions = {}): Promise<IngestRuntime> {
  const role = options.role ?? 'test';
  const parts = APP_PARTS[role];
  const logger = (options.logger ?? pino({ level: config.LOG_LEVEL })).child({ role: options.role ?? 'app' });
  const pools = openPostgresPools(config);
  const { sql } = pools;
  try {
    // npm run migrate applies the schema; an app only checks it (SchemaVersionError when behind).
    await checkIngestSchema(config, pools.client, logger);
  } catch (err) {
    // A start-up that fails here may be retried (startIngestRuntime): leave no pool behind.
    await pools.close(1);
    throw err;
  }

  const storage = buildIngestStorage(config, pools, logger, { embedder: parts.embedder });
  const { chunkStore, uploader, stores, relationalDb } = storage;
  // A document's versions and life (delete, replace); the lifecycle needs the engine, which needs the sagas.
  const versions = createDocumentVersions(pools.storeSql.relational);
  let lifecycle: DocumentLifecycle | undefined;
  const retireVersion: DocumentLifecycle['retireVersion'] = (r) => {
    if (!lifecycle) throw new Error('the runtime is not ready');
    return lifecycle.retireVersion(r);
  };
  const { engine, uploads, close: closeEngine } = await buildIngestEngine(config, pools, storage, { versions, retireVersion }, logger);
  const documentLifecycle = createDocumentLifecycle({ engine, versions, relational: stores.relational });
  lifecycle = documentLifecycle;

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
      if (request.replaces) await documentLifecycle.checkReplacement(request.replaces);
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
        ...(request.replaces ? { replaces: request.replaces } : {}),
      };
      // A replacement's saga holds the document's key beside its file's (the ingest saga's exclusivityKey).
      return engine.start(INGEST_SAGA, input, {
        sagaId,
        ...(o.idempotencyKey ? { idempotencyKey: o.idempotencyKey } : {}),
      });
    },

    async status(sagaId) {
      if (!isUuid(sagaId)) throw new SagaNotFoundError(sagaId);
      return toIngestionStatus(await engine.get(sagaId));
    },

    async events(sagaId, o) {
      if (!isUuid(sagaId)) throw new SagaNotFoundError(sagaId);
      return engine.events(sagaId, o);
    },

    async cancel(sagaId) {
      if (!isUuid(sagaId)) throw new SagaNotFoundError(sagaId);
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
      const doc = await documentLifecycle.resolve(documentId);
      return toDocumentView(doc, await documentLifecycle.history(documentId));
    },

    async openDocumentContent(documentId) {
      const doc = await documentLifecycle.resolve(documentId);
      if (doc.status === 'deleting') throw new DocumentDeletingError(documentId, doc.head?.deleteSagaId ?? null);
      if (!doc.row?.operationId) throw new DocumentNotFoundError(documentId);
      return { stream: await uploader.openReadStream(doc.row.operationId), sizeBytes: doc.row.size, sha256: doc.row.sha256 };
    },

    deleteDocument: (documentId, o = {}) => documentLifecycle.requestDelete(documentId, o.requestedBy ?? 'unknown'),

    listDocuments: async (query) => listDocuments(pools.storeSql.relational, parseDocumentListQuery(query)),

    startWorkers: (o = {}) => {
      if (!parts.workers) return Promise.reject(new IngestError('NOT_IN_THIS_APP', `a ${role} runtime runs no workers`));
      return engine.startWorkers({
        concurrency: o.concurrency ?? config.WORKER_CONCURRENCY,
        ...(o.queues ? { queues: o.queues } : {}),
        // A SIGKILLed worker's job is re-delivered once BullMQ's lock lapses and its stalled check runs: tie both
        // to the step lease, so a crashed step is taken over after about one lease, not BullMQ's 30 s defaults.
        lockDurationMs: config.STEP_LEASE_MS,
        stalledIntervalMs: config.STEP_LEASE_MS,
      });
    },

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
      const retention = await applyRetention({
        engine,
        uploader,
        documentsDb: relationalDb,
        logger,
        historyDays: config.SAGA_HISTORY_DAYS,
        batchSize: config.RETENTION_BATCH_SIZE,
        maxBatches: config.RETENTION_MAX_BATCHES,
      });
      const summary: JanitorSummary = {
        cleanups,
        alerts,
        relayed: maintenance.relayed,
        redispatched: maintenance.redispatched,
        rolledBackOverdue: maintenance.rolledBackOverdue,
        releasedLocks: maintenance.releasedLocks,
        orphanChunksDeleted: reaped.chunksDeleted,
        orphanPrefixes: reaped.prefixes,
        retention,
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
      await closeEngine();
      storage.close();
      await pools.close();
    },
  };
  logger.info({ sourceRoot: config.SOURCE_ROOT, queuePrefix: config.QUEUE_PREFIX }, 'ingestion runtime ready');
  return runtime;
}
