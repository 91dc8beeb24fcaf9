/**
 * @ingest/storage — the stores a document ingestion saga writes to, and their compensations.
 *
 * Glossary: an *operation* is one streaming upload of one source file; it splits the file into fixed-size
 * *chunks*, each stored as its own S3 object under the operation's key prefix; the *manifest* is the list of
 * chunks stored (index, key, size, sha256, md5), one PostgreSQL row committed after each PUT: the resume point.
 * A chunk may be *encoded* (zstd when it pays, AES-256-GCM under the operation's *data key*, itself *wrapped* by a
 * key-encryption key of a KeyProvider): the row then also records codec, nonce, and the stored length and hashes.
 *
 * How the saga uses it:
 *   await migrateStorage(sql)                                   // once per release (npm run migrate); processes checkStorageSchema
 *   const chunkStore = createChunkStore({ client: createS3Client(settings), bucket })
 *   const uploader = createUploader({ sql, chunkStore })
 *   await uploader.createOperation({ operationId, owner: sagaId, sourcePath })   // idempotent
 *   await uploader.upload(operationId, { signal, onProgress })   // resumes from the manifest on retry
 *   await uploader.verify(operationId)                           // the gate; fatal errors roll back
 *   at commit: await uploader.publishManifest(operationId, { documentId, metadata })   // the bucket describes itself
 *   compensation: await uploader.deleteOperationChunks(operationId) → report.failedDeletions → failed_cleanups
 *   downstream: createSecurityStore(sql).register / createVectorStore(sql, embedder).insertText /
 *               createGraphStore(sql).upsertDocument / createRelationalStore(sql).upsert, each with remove(documentId)
 *
 * Errors are StorageError with a `code`; isRetryableStorageError(err) decides retry vs roll back by code/name.
 */

/** Error class, codes and the retry predicate. */
export {
  StorageError,
  InvalidOptionError,
  isRetryableStorageError,
  storageErrorCode,
  RETRYABLE_CODES,
  FATAL_CODES,
  type StorageErrorCode,
  type RetryableCode,
  type FatalCode,
  type StorageErrorDetails,
} from './errors.ts';
/** S3 client construction and settings from the environment. */
export { createS3Client, readS3Settings, type S3Settings } from './s3-client.ts';
/** The S3 chunk store. */
export {
  createChunkStore,
  type ChunkStore,
  type ChunkStoreOptions,
  type StoredChunk,
  type ListedObject,
  type DeletionReport,
  type FailedDeletion,
  type ChunkCallOptions,
} from './chunk-store.ts';
/** Circuit breaker tuning shared by the stores. */
export type { BreakerOptions } from './call-guard.ts';
/** Checksums as the chunk store sends and reads them. */
export type { ChunkChecksums, ServerChecksum } from './checksums.ts';
/** The uploader: operations, streaming upload, resume, the integrity gate, verified cleanup, read-back. */
export type { PruneOperationOutcome } from './prune-operation.ts';
export { createUploader, type Uploader, type UploaderOptions, type CreateOperationInput, type PublishManifestInput } from './uploader.ts';
/** Encoding at rest: compression and encryption settings, the policy, and key providers. */
export { ENCRYPTION_POLICIES, mustEncrypt, type EncodingOptions, type EncryptionPolicy } from './encoding-options.ts';
export type { KeyProvider, KeyContext, WrappedKey } from './key-provider.ts';
export { createLocalKeyProvider, parseKeyList, type LocalKeyProviderOptions } from './local-key-provider.ts';
export { CHUNK_CODECS, type ChunkCodec, type ChunkCipher } from './chunk-codec.ts';
export { openOperationCipher } from './operation-encoding.ts';
/** Reading chunks back through every check (the consistency checker's deep mode uses it too). */
export { readChunk, chunkRefOf, type StoredChunkRef } from './read-back.ts';
/** The manifest object in the bucket, and recovery from the bucket alone. */
export { bucketManifestKey, isBucketManifestKey, BUCKET_MANIFEST_NAME, type BucketManifest } from './bucket-manifest.ts';
export { recoverDocument, type RecoverDocumentOptions, type RecoveredDocument } from './recover-document.ts';
export type { KeyRotationReport } from './rotate-data-keys.ts';
/** Results and options of upload runs. */
export type { UploadResult, UploadRunOptions } from './upload.ts';
/** Progress reports of an upload. */
export type { UploadProgress, ProgressListener } from './progress.ts';
/** The integrity gate's report and options. */
export type { VerificationReport, VerifyOptions } from './verify-upload.ts';
/** The one way to reach a source: by the identity fixed at validation, inside its root, never blocking. */
export {
  identifySource,
  openValidatedSource,
  assertSourceIntact,
  closeSource,
  type SourceIdentity,
  type SourceLocation,
} from './validated-source.ts';
/** The bytes of an open source, read abortably. */
export { readSourceBytes } from './source-file.ts';

export { forEachBounded } from './bounded.ts';
/** Rows of upload operations and manifests. */
export type { OperationRecord, ManifestRow } from './manifest.ts';
/** Key layout of chunks. */
export { chunkKey, operationKeyPrefix, chunkCountFor } from './chunk-layout.ts';
/** Options shared by the downstream stores (breaker and logger). */
export type { DatabaseStoreOptions } from './database-guard.ts';
/** Relational metadata store (`documents`). */
export { createRelationalStore, type RelationalStore, type RelationalStoreOptions, type DocumentInput, type DocumentRecord } from './relational-store.ts';
/** Vector store: streamed text chunks and their embeddings. */
export { createVectorStore, type VectorStore, type VectorStoreOptions, type VectorInsertResult, type SimilarChunk } from './vector-store.ts';
/** Text sources the vector store reads, and the chunker it uses. */
export { chunkText, type TextSource } from './text-chunker.ts';
/** Graph store: document nodes and relations. */
export {
  createGraphStore,
  type GraphStore,
  type GraphStoreOptions,
  type GraphRelation,
  type GraphDocumentInput,
  type StoredRelation,
} from './graph-store.ts';
/** Security and identity store with its audit trail. */
export {
  createSecurityStore,
  type SecurityStore,
  type SecurityStoreOptions,
  type SecurityRegistration,
  type SecurityRecord,
  type AuditEntry,
} from './security-store.ts';
/** The embedder contract. */
export type { Embedder, EmbedOptions } from './embedder.ts';
/** The built-in deterministic, offline embedder. */
export { createLocalEmbedder, type LocalEmbedderOptions } from './local-embedder.ts';
/** An embedder over an OpenAI-compatible /v1/embeddings endpoint. */
export { createHttpEmbedder, type HttpEmbedderOptions } from './http-embedder.ts';
/** Applying this package's migrations. */
export { migrateStorage, checkStorageSchema, STORAGE_MIGRATIONS_TABLE } from './migrate.ts';
/** The drizzle tables, for queries elsewhere (e.g. the janitor's orphan scan). */
export * as storageSchema from './schema/index.ts';
