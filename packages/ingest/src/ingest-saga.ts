// The document-ingestion saga: nine steps from a source file to a committed document, each with its compensation.
import { Readable } from 'node:stream';
import { CompensationFailed, SagaRollbackRequired, defineSaga, type Leftover, type SagaDefinition, type SagaStep, type StepContext, type StoreRegistry } from '@ingest/saga-core';
import {
  StorageError,
  isRetryableStorageError,
  openValidatedSource,
  readSourceBytes,
  storageErrorCode,
  type DeletionReport,
  type SourceIdentity,
  type Uploader,
  type UploadProgress,
} from '@ingest/storage';
import type { IngestConfig } from './config.ts';
import { SourceRejectedError } from './errors.ts';
import type { IngestRequest } from './request.ts';
import { resolveSource, sameFile } from './source-path.ts';
import { INGEST_STAGES } from './stages.ts';
import type { IngestStore } from './leftover-stores.ts';
import type { DownstreamStores } from './stores.ts';
import { documentLockKey, type VersionToRemove } from './delete-saga.ts';
import type { DocumentVersions } from './document-versions.ts';

/** Name of the saga in queues and tables. */
export const INGEST_SAGA = 'ingest-document';

/** The saga's steps, in order. */
export const INGEST_STEPS = [
  'validate_file',
  'start_streaming',
  'chunked_upload',
  'verify_integrity',
  'security_classification',
  'vector_insert',
  'graph_insert',
  'relational_insert',
  'finalize',
] as const;

/** What a saga carries (stored as jsonb): identifiers and the validated request. */
export type IngestInput = {
  documentId: string;
  operationId: string;
  filePath: string;
  sourcePath: string;
  lockKey: string;
  sizeBytes: number;
  mtimeMs: number;
  /** The source's device, inode, size and mtime at submission; absent in inputs of producers before this field. */
  sourceIdentity?: SourceIdentity;
  metadata: IngestRequest['metadata'];
  textPath?: string;
  /** The text file's real path and identity at submission (with textPath). */
  textSourcePath?: string;
  textIdentity?: SourceIdentity;
  content?: string;
  relations?: NonNullable<IngestRequest['relations']>;
  requestedBy: string;
  requestedAt: string;
  /** The stable id of the document this ingestion replaces: on commit it becomes that document's current version. */
  replaces?: string;
};

/** What each step records as its output (typed: later steps read them without casts). */
export type IngestOutputs = {
  validate_file: { sizeBytes: number; mtimeMs: number; sourcePath: string };
  start_streaming: { operationId: string };
  chunked_upload: { chunkCount: number; totalBytes: number; sha256: string; chunksUploaded: number; chunksSkipped: number; resumed: boolean; durationMs: number };
  verify_integrity: { chunkCount: number; totalBytes: number; sha256: string };
  security_classification: { classification: string };
  vector_insert: { chunks: number; source: string };
  graph_insert: { relations: number };
  relational_insert: { documentId: string };
  finalize: { documentId: string; committedAt: string; version?: number };
};

/** Collaborators of the saga's steps. */
export interface IngestSagaDeps {
  config: IngestConfig;
  uploader: Uploader;
  stores: DownstreamStores;
  /** The stores its compensations may leave something in (ingestStoreRegistry). */
  leftoverStores: StoreRegistry<IngestStore>;
  /** Heads and versions: the commit makes the new version current. */
  versions: DocumentVersions;
  /** Starts the removal of a version a replacement superseded (idempotent: a retried commit asks again). */
  retireVersion: (r: { documentId: string; version: VersionToRemove; requestedBy: string }) => Promise<void>;
  /** Told the bytes each upload run stores (chunks found already stored do not count): the upload throughput metric. */
  onUploadedBytes?: (bytes: number) => void;
}

type Ctx = StepContext<IngestInput, IngestOutputs>;

/** Builds the saga definition over its collaborators. */
export function ingestSaga(deps: IngestSagaDeps): SagaDefinition<IngestInput, IngestOutputs, IngestStore> {
  const { config, uploader, stores } = deps;
  const stepTimeoutMs = config.SAGA_TIMEOUT_SECONDS * 1000;
  const storeRetry = { attempts: config.STORE_RETRY_ATTEMPTS, backoffMs: config.STORE_RETRY_BACKOFF_MS, backoff: 'exponential' as const, maxBackoffMs: 30_000 };
  const compensationRetry = { attempts: config.COMPENSATION_RETRY_ATTEMPTS, backoffMs: config.STORE_RETRY_BACKOFF_MS, backoff: 'exponential' as const, maxBackoffMs: 30_000 };

  const steps: SagaStep<IngestInput, IngestOutputs>[] = [
      {
        name: 'validate_file',
        state: 'initialized',
        retry: { attempts: 3, backoffMs: 500 },
        async action(ctx) {
          const source = await resolveSource(config.SOURCE_ROOT, ctx.input.filePath, 'filePath', { maxBytes: config.MAX_FILE_BYTES }).catch((err: unknown) => {
            throw asFatal(err);
          });
          if (source.realPath !== ctx.input.sourcePath) {
            throw new SagaRollbackRequired('SOURCE_CHANGED', `filePath now resolves to ${source.realPath}, not ${ctx.input.sourcePath}`);
          }
          assertSameFile('filePath', ctx.input.sourceIdentity, source.identity);
          // The text is read late (vector_insert), through its identity; only a saga submitted without one pins it here.
          const text =
            ctx.input.textPath && !ctx.input.textIdentity
              ? await resolveSource(config.SOURCE_ROOT, ctx.input.textPath, 'textPath', { maxBytes: config.MAX_FILE_BYTES }).catch((err: unknown) => {
                  throw asFatal(err);
                })
              : undefined;
          // The identities are returned too: a saga submitted before inputs carried them is pinned from here on.
          return {
            sizeBytes: source.sizeBytes,
            mtimeMs: source.mtimeMs,
            sourcePath: source.realPath,
            sourceIdentity: { ...source.identity },
            ...(text ? { textSourcePath: text.realPath, textIdentity: { ...text.identity } } : {}),
          };
        },
        async compensation(ctx) {
          await undo('lock', ctx.input.lockKey, () => ctx.releaseExclusivity());
        },
      },
      {
        name: 'start_streaming',
        state: 'initialized',
        retry: storeRetry,
        async action(ctx) {
          const op = await storage(() =>
            uploader.createOperation({
              operationId: ctx.input.operationId,
              owner: ctx.sagaId,
              sourcePath: ctx.input.sourcePath,
              source: pinnedSource(ctx),
              ...(ctx.input.metadata.securityLevel ? { securityLevel: ctx.input.metadata.securityLevel } : {}),
            }),
          );
          return { operationId: op.id };
        },
        async compensation(ctx) {
          await undo('upload-operation', ctx.input.operationId, () => uploader.cancelOperation(ctx.input.operationId));
        },
      },
      {
        name: 'chunked_upload',
        state: 'uploading',
        // Leased only when it can take long: a document of one chunk is one PUT, run like any short step (fenced by its
        // dispatch number, resumable from the manifest if it runs again), which saves the claim and its transactions.
        longRunning: (input) => input.sizeBytes > config.CHUNK_SIZE_BYTES,
        // A long upload holds UPLOAD_CONCURRENCY chunk buffers: its own bound, whatever WORKER_CONCURRENCY is.
        concurrency: config.WORKER_UPLOADS,
        // Each retry resumes from the manifest; a killed worker's attempt counts as one.
        retry: { attempts: config.MAX_RESUME_ATTEMPTS, backoffMs: config.RESUME_RETRY_DELAY_MS, backoff: 'fixed' },
        timeoutMs: stepTimeoutMs,
        // Chunks may be stored even when the step failed: deleting them is part of rolling back that step.
        compensateOnFailure: true,
        async action(ctx) {
          // Progress reports are cumulative; the difference between two 'uploading' reports is what this run stored.
          // 'verifying' reports (a resume re-hashing stored chunks) only move the baseline.
          let counted = 0;
          const result = await storage(() =>
            uploader.upload(ctx.input.operationId, {
              signal: ctx.signal,
              source: pinnedSource(ctx),
              onProgress: (p: UploadProgress) => {
                if (p.phase === 'uploading' && p.bytesDone > counted) deps.onUploadedBytes?.(p.bytesDone - counted);
                counted = p.bytesDone;
                void ctx.reportProgress(progressJson(p)).catch(() => undefined);
              },
            }),
          );
          // No final progress write: the status reports a succeeded upload as complete, at its average speed.
          return {
            chunkCount: result.chunkCount,
            totalBytes: result.totalBytes,
            sha256: result.sha256,
            chunksUploaded: result.chunksUploaded,
            chunksSkipped: result.chunksSkipped,
            resumed: result.resumed,
            durationMs: result.durationMs,
          };
        },
        async compensation(ctx) {
          const operationId = ctx.input.operationId;
          let report: DeletionReport;
          try {
            report = await uploader.deleteOperationChunks(operationId, { signal: ctx.signal });
          } catch (err) {
            // The store is unreachable altogether: name every chunk the manifest knows, so the janitor can
            // delete exactly those (keys only, a few dozen bytes per chunk even for the largest documents), and the
            // operation's prefix, for objects no manifest row names (a PUT that landed after its upload gave up).
            const error = err instanceof Error ? err.message : String(err);
            const leftovers: Leftover<IngestStore>[] = [];
            for await (const row of uploader.listManifest(operationId)) leftovers.push({ store: 's3-chunk', key: row.key, error, details: { operationId } });
            const op = await uploader.getOperation(operationId);
            if (op) leftovers.push({ store: 's3-prefix', key: op.keyPrefix, error, details: { operationId } });
            throw new CompensationFailed<IngestStore>(`chunk cleanup failed before deleting anything: ${error}`, leftovers, err);
          }
          ctx.log.info({ ...report, failedDeletions: report.failedDeletions.length }, 'chunk cleanup finished');
          if (report.failedDeletions.length > 0) {
            throw new CompensationFailed<IngestStore>(
              `${report.failedDeletions.length} of ${report.totalChunks} chunks could not be deleted (success rate ${(report.successRate * 100).toFixed(1)}%)`,
              report.failedDeletions.map((f) => ({ store: 's3-chunk', key: f.key, error: f.error, details: { operationId } })),
            );
          }
        },
      },
      {
        name: 'verify_integrity',
        state: 'verifying',
        // Not longRunning: it only reads, so a second run after a false stall alarm is harmless; a long one still
        // proves it is alive and sees cancellations through the engine's heartbeat.
        retry: storeRetry,
        timeoutMs: stepTimeoutMs,
        async action(ctx) {
          const report = await storage(() => uploader.verify(ctx.input.operationId, { signal: ctx.signal, source: pinnedSource(ctx) }));
          return { chunkCount: report.chunkCount, totalBytes: report.totalBytes, sha256: report.sha256 };
        },
      },
      {
        name: 'security_classification',
        retry: storeRetry,
        compensateOnFailure: true,
        async action(ctx) {
          const sha256 = verifiedHash(ctx);
          await storage(() =>
            stores.security.register({
              documentId: ctx.input.documentId,
              contentSha256: sha256,
              classification: ctx.input.metadata.securityLevel ?? 'internal',
              requestedBy: ctx.input.requestedBy,
              requestedAt: new Date(ctx.input.requestedAt),
            }),
          );
          return { classification: ctx.input.metadata.securityLevel ?? 'internal' };
        },
        async compensation(ctx) {
          await undo('security', ctx.input.documentId, () => stores.security.remove(ctx.input.documentId));
        },
      },
      {
        name: 'vector_insert',
        retry: storeRetry,
        timeoutMs: stepTimeoutMs,
        compensateOnFailure: true,
        async action(ctx) {
          const text = await openText(config, ctx);
          if (!text) return { chunks: 0, source: 'none' };
          const result = await storage(() => stores.vector.insertText(ctx.input.documentId, text.stream, { signal: ctx.signal }));
          return { chunks: result.chunks, source: text.source };
        },
        async compensation(ctx) {
          await undo('vector', ctx.input.documentId, () => stores.vector.remove(ctx.input.documentId));
        },
      },
      {
        name: 'graph_insert',
        retry: storeRetry,
        compensateOnFailure: true,
        async action(ctx) {
          const { metadata, relations } = ctx.input;
          const r = await storage(() =>
            stores.graph.upsertDocument({
              documentId: ctx.input.documentId,
              label: metadata.title,
              properties: { category: metadata.category ?? null, securityLevel: metadata.securityLevel ?? null },
              relations: (relations ?? []).map((rel) => ({ type: rel.type, targetId: rel.target, properties: rel.properties ?? {} })),
            }),
          );
          return { relations: r.relations };
        },
        async compensation(ctx) {
          await undo('graph', ctx.input.documentId, () => stores.graph.remove(ctx.input.documentId));
        },
      },
      {
        name: 'relational_insert',
        retry: storeRetry,
        compensateOnFailure: true,
        async action(ctx) {
          const { metadata } = ctx.input;
          const { title, category, securityLevel, ...rest } = metadata;
          const verified = verifiedOutput(ctx);
          await storage(() =>
            stores.relational.upsert({
              id: ctx.input.documentId,
              title,
              category: category ?? null,
              securityLevel: securityLevel ?? null,
              sourcePath: ctx.input.filePath,
              size: verified.totalBytes,
              sha256: verified.sha256,
              operationId: ctx.input.operationId,
              chunkCount: verified.chunkCount,
              metadata: { ...rest, sagaId: ctx.sagaId },
            }),
          );
          return { documentId: ctx.input.documentId };
        },
        async compensation(ctx) {
          await undo('relational', ctx.input.documentId, () => stores.relational.remove(ctx.input.documentId));
        },
      },
      {
        name: 'finalize',
        retry: storeRetry,
        compensateOnFailure: true,
        async action(ctx) {
          // The bucket describes the committed document itself (npm run recover needs nothing else); the chunked_upload
          // compensation deletes it with the chunks, since it lies under the same prefix.
          await storage(() => uploader.publishManifest(ctx.input.operationId, { documentId: ctx.input.documentId, metadata: { ...ctx.input.metadata } }, { signal: ctx.signal }));
          await storage(() => stores.security.audit(ctx.input.documentId, 'committed', ctx.input.requestedBy, { sagaId: ctx.sagaId }));
          // Last: the switch readers see. A new document becomes version 1 of itself; a replacement becomes the
          // current version of the document it replaces, in one UPDATE of its head.
          const stableId = ctx.input.replaces ?? ctx.input.documentId;
          const outcome = await deps.versions.commit({ versionId: ctx.input.documentId, documentId: stableId, sagaId: ctx.sagaId, operationId: ctx.input.operationId });
          if (!outcome.ok) throw new SagaRollbackRequired(outcome.reason, outcome.message);
          if (outcome.previousVersionId) {
            const previous = await deps.versions.version(outcome.previousVersionId);
            await deps.retireVersion({
              documentId: stableId,
              version: { versionId: outcome.previousVersionId, operationId: previous?.operationId ?? null },
              requestedBy: ctx.input.requestedBy,
            });
          }
          return { documentId: stableId, committedAt: new Date().toISOString(), version: outcome.version };
        },
        async compensation(ctx) {
          // The old version is current again (a no-op when the switch never happened).
          await deps.versions.revert(ctx.input.documentId);
          await undo('security-audit', ctx.input.documentId, () => stores.security.audit(ctx.input.documentId, 'failed', ctx.input.requestedBy, { sagaId: ctx.sagaId }));
        },
      },
  ];
  return defineSaga<IngestInput, IngestOutputs, IngestStore>({
    name: INGEST_SAGA,
    stores: deps.leftoverStores,
    timeoutSeconds: config.SAGA_TIMEOUT_SECONDS,
    stages: INGEST_STAGES,
    // One live saga per source file, and a replacement holds its document too (a delete or another replacement of it
    // is refused while it runs); the engine takes them at start, checks them before each step, frees them at the end.
    exclusivityKey: (input) => (input.replaces ? [input.lockKey, documentLockKey(input.replaces)] : input.lockKey),
    steps: steps.map((step) => (step.compensation ? { compensationRetry, ...step } : step)),
  });
}

/** Runs a storage call, turning its fatal errors into SagaRollbackRequired (retryable ones retry with the step's policy). */
async function storage<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw asFatal(err);
  }
}

/** Runs one undo; when it fails, names the exact leftover (store, key) so the janitor can retry precisely that. */
async function undo(store: IngestStore, key: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new CompensationFailed<IngestStore>(`could not undo ${store} ${key}: ${message}`, [{ store, key, error: message }], err);
  }
}

function asFatal(err: unknown): unknown {
  if (err instanceof SourceRejectedError) {
    const reason = err.code === 'SOURCE_NOT_FOUND' ? 'FILE_NOT_FOUND' : err.code;
    return new SagaRollbackRequired(reason, err.message, {}, err);
  }
  const code = storageErrorCode(err);
  if (code && !isRetryableStorageError(err) && code !== 'CANCELLED') {
    return new SagaRollbackRequired(code, (err as StorageError).message, {}, err);
  }
  return err;
}

/** What the integrity gate recorded; its absence means the saga's record is corrupt. */
function verifiedOutput(ctx: Ctx): IngestOutputs['verify_integrity'] {
  const v = ctx.outputs.verify_integrity;
  if (!v?.sha256) throw new SagaRollbackRequired('METADATA_CORRUPT', 'verify_integrity recorded no sha256');
  return v;
}

function verifiedHash(ctx: Ctx): string {
  return verifiedOutput(ctx).sha256;
}

async function openText(config: IngestConfig, ctx: Ctx): Promise<{ stream: AsyncIterable<Uint8Array> | Readable; source: string } | null> {
  if (ctx.input.textPath) {
    const validated = ctx.outputs.validate_file as { textSourcePath?: string; textIdentity?: SourceIdentity } | undefined;
    const realPath = ctx.input.textSourcePath ?? validated?.textSourcePath;
    const identity = ctx.input.textIdentity ?? validated?.textIdentity;
    if (!realPath || !identity) throw identityUnknown('textPath');
    const loc = { root: config.SOURCE_ROOT, path: realPath, operationId: ctx.input.operationId };
    const textPath = ctx.input.textPath;
    const fh = await storage(() =>
      openValidatedSource(loc, identity, ctx.signal).catch((err: unknown) => {
        // Named by the field the caller gave, as the submission's own refusals are.
        throw err instanceof StorageError ? new StorageError(err.code, `textPath "${textPath}": ${err.message}`, { operationId: loc.operationId, cause: err }) : err;
      }),
    );
    return { stream: readSourceBytes(fh, { operationId: ctx.input.operationId, path: realPath }, ctx.signal), source: 'textPath' };
  }
  if (ctx.input.content) return { stream: Readable.from([ctx.input.content]), source: 'content' };
  return null;
}

/**
 * The identity every open of the source must find: fixed at submission, or (a saga submitted before inputs carried
 * it) by validate_file. A saga past validate_file without either cannot prove which file it validated: it rolls back.
 */
function pinnedSource(ctx: Ctx): SourceIdentity {
  const identity = ctx.input.sourceIdentity ?? (ctx.outputs.validate_file as { sourceIdentity?: SourceIdentity } | undefined)?.sourceIdentity;
  if (!identity) throw identityUnknown('filePath');
  return identity;
}

function identityUnknown(field: string): SagaRollbackRequired {
  return new SagaRollbackRequired('SOURCE_IDENTITY_UNKNOWN', `the saga recorded no device and inode for ${field} (submitted by an older producer); resubmit it`);
}

function assertSameFile(field: string, pinned: SourceIdentity | undefined, now: SourceIdentity): void {
  if (pinned && !sameFile(pinned, now)) {
    throw new SagaRollbackRequired('SOURCE_REPLACED', `${field} is no longer the file validated at submission (device ${pinned.dev} inode ${pinned.ino}, now device ${now.dev} inode ${now.ino})`);
  }
}

function progressJson(p: Pick<UploadProgress, 'bytesDone' | 'bytesTotal' | 'percent' | 'bytesPerSecond' | 'etaSeconds'>): { [k: string]: number | null } {
  return { bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, percent: p.percent, bytesPerSecond: p.bytesPerSecond, etaSeconds: p.etaSeconds ?? null };
}
