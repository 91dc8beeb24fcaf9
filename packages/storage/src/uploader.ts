// The uploader: the operations the ingestion saga calls on upload operations, over one database and one chunk store.
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Sql } from 'postgres';
import { InvalidOptionError, StorageError } from './errors.ts';
import { type StorageDb, storageDb } from './db.ts';
import type { ChunkStore, DeletionReport } from './chunk-store.ts';
import { assertOperationId, operationKeyPrefix } from './chunk-layout.ts';
import {
  type ManifestRow,
  type OperationRecord,
  type OperationWithFirstPage,
  findOperation,
  insertOperation,
  manifestRows,
  manifestRowsFrom,
  markCancelled,
  requireOperationWithFirstPage,
} from './manifest.ts';
import { type SourceIdentity, type SourceLocation, closeSource, openValidatedSourceStat, sourceRootOf } from './validated-source.ts';
import { completeManifest } from './manifest-check.ts';
import { type UploadResult, type UploadRunOptions, runUpload } from './upload.ts';
import { type VerificationReport, type VerifyOptions, verifyUpload } from './verify-upload.ts';
import { deleteOperationChunks } from './delete-operation-chunks.ts';
import { pruneOperation, type PruneOperationOutcome } from './prune-operation.ts';
import { intOption, requiredOption } from './options.ts';
import { type EncodingOptions, mustEncrypt, resolveEncoding } from './encoding-options.ts';
import { newOperationEncoding, openOperationCipher } from './operation-encoding.ts';
import { type StoredChunkRef, chunkRefOf, openChunkStream } from './read-back.ts';
import { buildBucketManifest, writeBucketManifest } from './bucket-manifest.ts';
import { type KeyRotationReport, rotateDataKeys } from './rotate-data-keys.ts';

/** Options of createUploader. */
export interface UploaderOptions {
  /** PostgreSQL pool holding upload_operations and upload_chunks (run migrateStorage first). Required. */
  sql: Sql;
  /** Where chunks go. Required. */
  chunkStore: ChunkStore;
  /** Chunk size for new operations, in bytes. Default 8 MiB; at most 1 GiB. */
  chunkSizeBytes?: number;
  /** Chunks read and uploading at once; memory is about chunkSizeBytes × concurrency. Default 4. */
  concurrency?: number;
  /** Every operation's chunks live under `${keyPrefix}${operationId}/`. Default 'chunks/'. */
  keyPrefix?: string;
  /** Parallel HEAD calls when verifying. Default 8. */
  verifyParallelism?: number;
  /** Manifest rows read per query. Default 1000. */
  manifestPageSize?: number;
  /** Parent logger; the uploader logs through children carrying operationId. Default: silent. */
  logger?: Logger;
  /**
   * The directory every source must stay inside (SOURCE_ROOT): sources are reached only through it, component by
   * component, without following symlinks. Default: each source's own directory.
   */
  sourceRoot?: string;
  /** Compression and encryption of chunks at rest; see EncodingOptions. Default: neither (confidential still requires a key). */
  encoding?: EncodingOptions;
}

/** Input of createOperation. */
export interface CreateOperationInput {
  /** Caller-chosen id (letters, digits, . _ -); generated (a UUID) when omitted. Reusing an id returns that operation. */
  operationId?: string;
  /** The saga id or another owner string. */
  owner: string;
  /** Absolute path of the source file; it must exist (checked here only without `source`, else when it is read). */
  sourcePath: string;
  /** Overrides the uploader's chunk size for this operation. */
  chunkSizeBytes?: number;
  /**
   * The source's identity fixed at validation: its size and mtime are recorded without opening the file, and the
   * upload and the gate refuse another file at its path (SOURCE_REPLACED) before reading it.
   */
  source?: SourceIdentity;
  /** The document's security level: 'confidential' and 'restricted' are always encrypted, others per encryptAtRest. */
  securityLevel?: string;
}

/** What publishManifest writes into the bucket beside the chunks. */
export interface PublishManifestInput {
  documentId: string;
  /** The document's metadata (sealed under its data key when the document is encrypted). */
  metadata: Record<string, unknown>;
}

/** The uploader's operations. */
export interface Uploader {
  /**
   * Starts an operation (records source size and mtime: from `source` when given, without opening the file; else from
   * the file); idempotent for the same id, owner and source.
   */
  createOperation(input: CreateOperationInput): Promise<OperationRecord>;
  /** Uploads the operation's source, resuming from its manifest; a completed operation returns at once. */
  upload(operationId: string, options?: UploadRunOptions): Promise<UploadResult>;
  /** The integrity gate; throws CHUNK_COUNT_MISMATCH, SIZE_MISMATCH or HASH_MISMATCH (fatal) on any difference. */
  verify(operationId: string, options?: VerifyOptions): Promise<VerificationReport>;
  /** Deletes every chunk of the operation (manifest and prefix listing) and verifies each is gone. */
  deleteOperationChunks(operationId: string, options?: { signal?: AbortSignal }): Promise<DeletionReport>;
  /** Retention: deletes the operation's manifest and row once nothing is stored under its prefix (see prune-operation.ts). */
  pruneOperation(operationId: string, options?: { signal?: AbortSignal }): Promise<PruneOperationOutcome>;
  /** Marks an active operation cancelled (idempotent); a running upload stops at its next chunk. Undefined if unknown. */
  cancelOperation(operationId: string): Promise<OperationRecord | undefined>;
  /** The operation row, or undefined. */
  getOperation(operationId: string): Promise<OperationRecord | undefined>;
  /** The manifest in index order, page by page. */
  listManifest(operationId: string): AsyncIterable<ManifestRow>;
  /**
   * The stored document as a byte stream over its manifest, one chunk fetched at a time, decrypted and decompressed,
   * each checked against its stored and source hashes before it is passed on, ending with the whole-file SHA-256.
   */
  openReadStream(operationId: string, options?: { signal?: AbortSignal }): Promise<Readable>;
  /** Writes the bucket's manifest object of a completed operation (idempotent); returns its key. */
  publishManifest(operationId: string, input: PublishManifestInput, options?: { signal?: AbortSignal }): Promise<string>;
  /** Re-wraps every data key not under the active key-encryption key; chunks are not touched. */
  rotateDataKeys(): Promise<KeyRotationReport>;
}

const MiB = 1024 * 1024;

/**
 * Size and mtime of a source validated earlier, taken from its identity: creation reads nothing. Every read of the
 * source (the upload, the gate) opens it through openValidatedSource with that identity, so a file replaced since is
 * refused (SOURCE_REPLACED) before a byte of it is read, and one resized since is SIZE_MISMATCH.
 */
function recordedIdentity(identity: SourceIdentity): { size: number; mtime: Date } {
  return { size: identity.size, mtime: new Date(identity.mtimeMs) };
}

/** Size and mtime of a source no identity was validated for, from the file itself (opened by the path rules alone). */
async function statSource(loc: SourceLocation): Promise<{ size: number; mtime: Date }> {
  const { fh, size, mtime } = await openValidatedSourceStat(loc, undefined);
  await closeSource(fh);
  return { size, mtime };
}

/** Creates an uploader; options are validated here. */
export function createUploader(options: UploaderOptions): Uploader {
  const sql = requiredOption('sql', options.sql);
  const chunkStore = requiredOption('chunkStore', options.chunkStore);
  const chunkSizeBytes = intOption('chunkSizeBytes', options.chunkSizeBytes, 8 * MiB, 1, 1024 * MiB);
  const concurrency = intOption('concurrency', options.concurrency, 4, 1, 64);
  const verifyParallelism = intOption('verifyParallelism', options.verifyParallelism, 8, 1, 256);
  const manifestPageSize = intOption('manifestPageSize', options.manifestPageSize, 1000, 1, 100_000);
  const keyPrefix = options.keyPrefix ?? 'chunks/';
  if (keyPrefix !== '' && !keyPrefix.endsWith('/')) throw new InvalidOptionError('keyPrefix', `must be empty or end with '/', got ${keyPrefix}`);
  const logger = options.logger;
  const sourceRoot = options.sourceRoot;
  const encoding = resolveEncoding(options.encoding);
  const keyProvider = encoding.keyProvider;
  const db: StorageDb = storageDb(sql);

  // The operation and the first page of its manifest in one statement: a small document's whole manifest.
  async function completedOperation(operationId: string, what: string): Promise<OperationWithFirstPage> {
    const read = await requireOperationWithFirstPage(db, operationId, manifestPageSize);
    const { op } = read;
    if (op.status !== 'completed' || !op.sha256) throw new StorageError('UPLOAD_INCOMPLETE', `operation ${operationId} is ${op.status}; only a completed upload can be ${what}`, { operationId });
    return read;
  }
  async function* refs(read: OperationWithFirstPage): AsyncGenerator<StoredChunkRef> {
    for await (const row of completeManifest(read.op, manifestRowsFrom(db, read))) yield chunkRefOf(row);
  }

  return {
    async createOperation(input) {
      const operationId = input.operationId ?? randomUUID();
      assertOperationId(operationId);
      if (!input.owner) throw new InvalidOptionError('owner', 'is required');
      const chunkSize = intOption('chunkSizeBytes', input.chunkSizeBytes, chunkSizeBytes, 1, 1024 * MiB);
      const source = input.source ? recordedIdentity(input.source) : await statSource({ operationId, path: input.sourcePath, root: sourceRootOf(sourceRoot, input.sourcePath) });
      // A replayed creation keeps the first one's data key; a new one gets its encoding (and key) chosen here, once. An
      // operation without a key needs no look-up first: on a replay the insert conflicts and returns the stored row.
      const existing = mustEncrypt(encoding.encryptAtRest, input.securityLevel) ? await findOperation(db, operationId) : undefined;
      const columns = existing ?? (await newOperationEncoding(encoding, operationId, input.securityLevel));
      const { record, created } = await insertOperation(db, {
        compressionLevel: columns.compressionLevel,
        compressionMinSavings: columns.compressionMinSavings,
        keyId: columns.keyId,
        wrappedKey: columns.wrappedKey,
        id: operationId,
        owner: input.owner,
        sourcePath: input.sourcePath,
        sourceSize: source.size,
        sourceMtime: source.mtime,
        chunkSize,
        keyPrefix: operationKeyPrefix(keyPrefix, operationId),
      });
      if (!created && (record.owner !== input.owner || record.sourcePath !== input.sourcePath)) {
        throw new StorageError(
          'OPERATION_CONFLICT',
          `operation ${operationId} exists for owner ${record.owner} and source ${record.sourcePath}, not ${input.owner} and ${input.sourcePath}`,
          { operationId },
        );
      }
      return record;
    },

    upload: (operationId, runOptions) => runUpload({ db, chunkStore, concurrency, manifestPageSize, keyProvider, logger, sourceRoot }, operationId, runOptions),

    verify: (operationId, verifyOptions) =>
      verifyUpload({ db, chunkStore, parallelism: verifyParallelism, manifestPageSize, keyProvider, logger, sourceRoot }, operationId, verifyOptions),

    deleteOperationChunks: (operationId, deleteOptions) => deleteOperationChunks({ db, chunkStore, manifestPageSize, logger }, operationId, deleteOptions),

    pruneOperation: (operationId, pruneOptions) => pruneOperation({ db, chunkStore, batchSize: manifestPageSize }, operationId, pruneOptions),

    cancelOperation: (operationId) => markCancelled(db, operationId),

    getOperation: (operationId) => findOperation(db, operationId),

    listManifest: (operationId) => manifestRows(db, operationId, manifestPageSize),

    async openReadStream(operationId, readOptions = {}) {
      const read = await completedOperation(operationId, 'read');
      const { op } = read;
      // Unwrapped before the first byte: a retired key fails the request (KEY_UNAVAILABLE), not the stream midway.
      const cipher = await openOperationCipher(op, keyProvider);
      return openChunkStream(chunkStore, refs(read), cipher, { operationId, size: op.sourceSize, sha256: op.sha256 as string }, readOptions);
    },

    async publishManifest(operationId, input, publishOptions = {}) {
      const read = await completedOperation(operationId, 'published');
      const cipher = await openOperationCipher(read.op, keyProvider);
      const manifest = await buildBucketManifest(read.op, refs(read), input, cipher);
      const key = await writeBucketManifest(chunkStore, manifest, publishOptions);
      logger?.debug({ operationId, key, chunks: manifest.chunks.length, encrypted: cipher !== undefined }, 'manifest object written');
      return key;
    },

    rotateDataKeys: () => rotateDataKeys({ db, chunkStore, keyProvider, pageSize: manifestPageSize, logger }),
  };
}
