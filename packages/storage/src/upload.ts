// The streaming upload: one read pass over the source, bounded chunks in flight, a manifest row per stored chunk, resume from the manifest.
import type { FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import { StorageError } from './errors.ts';
import type { StorageDb } from './db.ts';
import type { ChunkStore } from './chunk-store.ts';
import { chunkChecksums } from './checksums.ts';
import { chunkCountFor, chunkKey, chunkLengthAt } from './chunk-layout.ts';
import { createManifestChecker } from './manifest-check.ts';
import {
  type ManifestStats,
  type OperationRecord,
  commitChunk,
  manifestRows,
  markCompleted,
  operationStatus,
  requireOperationWithStats,
} from './manifest.ts';
import { hashSourceChunks, readExactly } from './source-file.ts';
import { type WholeFileHash, createWholeFileHash } from './whole-file-hash.ts';
import { type SourceIdentity, assertSourceIntact, closeSource, openValidatedSourceStat, sourceRootOf } from './validated-source.ts';
import { type ProgressListener, type ProgressTracker, createProgressTracker } from './progress.ts';
import { encodeChunk, maxStoredSize } from './chunk-codec.ts';
import type { KeyProvider } from './key-provider.ts';
import { type OperationEncoding, openOperationEncoding } from './operation-encoding.ts';

/** Collaborators and tuning of an upload run (from createUploader). */
export interface UploadDeps {
  db: StorageDb;
  chunkStore: ChunkStore;
  concurrency: number;
  manifestPageSize: number;
  keyProvider: KeyProvider | undefined;
  logger: Logger | undefined;
  /** The directory sources must stay inside (undefined: the source's own directory). */
  sourceRoot: string | undefined;
}

/** Per-run options of upload(). */
export interface UploadRunOptions {
  /** Checked between chunks and passed to every S3 call: abort it to cancel or to enforce a deadline (fails as CANCELLED). */
  signal?: AbortSignal;
  /** Called after each chunk; see UploadProgress. */
  onProgress?: ProgressListener;
  /** The source's identity fixed at validation: any other file at its path is refused (SOURCE_REPLACED). */
  source?: SourceIdentity;
}

/** What an upload run did. */
export interface UploadResult {
  operationId: string;
  chunkCount: number;
  totalBytes: number;
  /** Whole-file SHA-256 (hex) over every byte of the source. */
  sha256: string;
  /** Chunks PUT by this run. */
  chunksUploaded: number;
  /** Chunks found in the manifest, re-hashed from the source and not uploaded again. */
  chunksSkipped: number;
  /** Whether the run continued an earlier one (or found the operation already completed). */
  resumed: boolean;
  durationMs: number;
}

/** One chunk to upload: `expectedSha256` is set for a gap whose bytes were already hashed while verifying the prefix. */
interface ChunkTask {
  index: number;
  expectedSha256: string | undefined;
}

/** Uploads (or resumes uploading) an operation's source; see UploadResult. */
export async function runUpload(deps: UploadDeps, operationId: string, options: UploadRunOptions = {}): Promise<UploadResult> {
  const startedAt = Date.now();
  // The operation and its manifest's counts in one read: the stats are as of the start of the run, which is all a
  // resume needs (a chunk committed since by a duplicate delivery is found again by commitChunk, which checks it).
  const { op, stats } = await requireOperationWithStats(deps.db, operationId);
  const log = deps.logger?.child({ operationId });
  if (op.status === 'cancelled') throw cancelledError(op.id, 'the operation was cancelled');
  const chunkCount = chunkCountFor(op.sourceSize, op.chunkSize);
  if (op.status === 'completed' && op.sha256) {
    // A replayed step: the work is done, report it without touching the source or the bucket.
    return { operationId, chunkCount, totalBytes: op.sourceSize, sha256: op.sha256, chunksUploaded: 0, chunksSkipped: stats.count, resumed: true, durationMs: 0 };
  }
  const signal = options.signal;
  // Before the source is opened: an operation whose data key cannot be unwrapped (KEY_UNAVAILABLE) uploads nothing.
  const encoding = await openOperationEncoding(op, deps.keyProvider);
  const loc = { operationId: op.id, path: op.sourcePath, root: sourceRootOf(deps.sourceRoot, op.sourcePath) };
  const { fh, size } = await openValidatedSourceStat(loc, options.source, signal);
  try {
    if (size !== op.sourceSize) {
      throw new StorageError('SIZE_MISMATCH', `source ${op.sourcePath} is ${size} bytes, the operation started with ${op.sourceSize}`, { operationId });
    }
    if (stats.maxIndex >= chunkCount || stats.count > stats.maxIndex + 1) {
      throw new StorageError(
        'METADATA_CORRUPT',
        `manifest of operation ${op.id} has ${stats.count} rows up to index ${stats.maxIndex}, the source has ${chunkCount} chunks`,
        { operationId },
      );
    }
    // A resume is worth an info line (rare, and what an operator looks for after a crash); a plain start is not.
    const startFields = { chunkCount, storedChunks: stats.count, sourceSize: op.sourceSize };
    if (stats.count) log?.info(startFields, 'resuming upload');
    else log?.debug(startFields, 'starting upload');
    const progress = createProgressTracker({ operationId, chunkCount, bytesTotal: op.sourceSize, listener: options.onProgress, logger: log });
    const whole = createWholeFileHash(chunkCount);
    // The first check needs no read: the operation was read as active at the start of this run, a moment ago, and
    // the descriptor was fstat-ed by the open just now (not deleted, the size checked above).
    let firstCheck = true;
    const checkContinue = async (): Promise<void> => {
      if (options.signal?.aborted) throw cancelledError(op.id, 'aborted by the caller', options.signal.reason);
      if (firstCheck) {
        firstCheck = false;
        if (op.status === 'active') return;
      }
      if ((await operationStatus(deps.db, op.id)) !== 'active') throw cancelledError(op.id, 'the operation was cancelled');
      await assertSourceIntact(fh, loc, op.sourceSize, signal);
    };

    const gaps = await verifyStoredPrefix({ deps, op, fh, stats, whole, progress, checkContinue, signal });
    const tasks = chunkTasks(gaps, stats.maxIndex + 1, chunkCount);
    // A source of one chunk uploaded by this run: its whole-file hash is known before that chunk's commit, which
    // then completes the operation in the same statement (one round trip fewer per small document).
    const completesOnCommit = chunkCount === 1 && stats.count === 0;
    const { uploaded: chunksUploaded, completed } = await uploadChunks({ deps, op, fh, tasks, whole, progress, checkContinue, signal, encoding, completesOnCommit });

    const sha256 = whole.digest();
    if (!completed && !(await markCompleted(deps.db, op.id, sha256))) throw cancelledError(op.id, 'the operation was cancelled');
    const result = { operationId, chunkCount, totalBytes: op.sourceSize, sha256, chunksUploaded, chunksSkipped: stats.count, resumed: stats.count > 0, durationMs: Date.now() - startedAt };
    log?.debug({ chunksUploaded, chunksSkipped: stats.count, durationMs: result.durationMs }, 'upload completed');
    return result;
  } catch (err) {
    log?.warn({ err, durationMs: Date.now() - startedAt }, 'upload failed');
    throw err;
  } finally {
    await closeSource(fh, signal);
  }
}

/**
 * Re-hashes chunks [0, highest stored index] from the source before anything more is uploaded: each one in the
 * manifest must still hash the same (else HASH_MISMATCH); the ones missing (commits that never happened) are gaps.
 * Feeds the whole-file hash, so it still covers every byte.
 */
async function verifyStoredPrefix(args: {
  deps: UploadDeps;
  op: OperationRecord;
  fh: FileHandle;
  stats: ManifestStats;
  whole: WholeFileHash;
  progress: ProgressTracker;
  checkContinue: () => Promise<void>;
  signal: AbortSignal | undefined;
}): Promise<ChunkTask[]> {
  const { deps, op, stats, progress } = args;
  if (stats.count === 0) return [];
  const checker = createManifestChecker(op);
  const rows = manifestRows(deps.db, op.id, deps.manifestPageSize);
  const gaps: ChunkTask[] = [];
  try {
    let next = await rows.next();
    await hashSourceChunks({
      fh: args.fh,
      ctx: { operationId: op.id, path: op.sourcePath },
      sourceSize: op.sourceSize,
      chunkSize: op.chunkSize,
      endIndex: stats.maxIndex + 1,
      whole: args.whole,
      beforeChunk: args.checkContinue,
      signal: args.signal,
      onChunk: async (index, sha256) => {
        if (next.done || next.value.chunkIndex !== index) {
          gaps.push({ index, expectedSha256: sha256 });
          return;
        }
        const row = next.value;
        checker.check(row);
        if (row.sha256 !== sha256) {
          throw new StorageError(
            'HASH_MISMATCH',
            `source ${op.sourcePath} changed since chunk ${index} (${row.key}) was uploaded: manifest sha256 ${row.sha256}, source now ${sha256}`,
            { operationId: op.id, chunkIndex: index, key: row.key },
          );
        }
        progress.skipped(row.size);
        progress.emit('verifying');
        next = await rows.next();
      },
    });
    // Every row has an index <= maxIndex and rows come in index order, so all were consumed; one left is damage.
    if (!next.done) checker.check(next.value);
  } finally {
    await rows.return(undefined);
  }
  return gaps;
}

function* chunkTasks(gaps: readonly ChunkTask[], firstNew: number, chunkCount: number): Generator<ChunkTask> {
  yield* gaps;
  for (let index = firstNew; index < chunkCount; index++) yield { index, expectedSha256: undefined };
}

/**
 * Reads the tasks' chunks in order into at most `concurrency` buffers and PUTs them concurrently, committing a
 * manifest row after each PUT. New chunks (not gaps) feed the whole-file hash, in order. With `completesOnCommit`
 * (the only task is the source's only chunk) that chunk's commit also completes the operation. Returns chunks
 * uploaded and whether the operation was completed.
 */
async function uploadChunks(args: {
  deps: UploadDeps;
  op: OperationRecord;
  fh: FileHandle;
  tasks: Iterable<ChunkTask>;
  whole: WholeFileHash;
  progress: ProgressTracker;
  checkContinue: () => Promise<void>;
  signal: AbortSignal | undefined;
  encoding: OperationEncoding;
  completesOnCommit: boolean;
}): Promise<{ uploaded: number; completed: boolean }> {
  const { deps, op, progress } = args;
  const ctx = { operationId: op.id, path: op.sourcePath };
  const bufferSize = Math.min(op.chunkSize, op.sourceSize);
  // Buffers are recycled, so memory stays at concurrency × chunk size whatever the file size; an encrypted operation
  // recycles a ciphertext buffer with each (2 × concurrency × chunk size); a zstd frame is one more, smaller, copy.
  const free: { source: Buffer; scratch: Buffer | undefined }[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let uploaded = 0;
  let completed = false;

  try {
    for (const task of args.tasks) {
      while (inFlight.size >= deps.concurrency) await Promise.race(inFlight);
      if (failure) break;
      // Checked after waiting for a free slot, so a cancellation during that wait starts no further chunk.
      await args.checkContinue();
      const slot = free.pop() ?? { source: Buffer.allocUnsafe(bufferSize), scratch: args.encoding.cipher ? Buffer.allocUnsafe(maxStoredSize(bufferSize)) : undefined };
      const buffer = slot.source;
      const length = chunkLengthAt(task.index, op.sourceSize, op.chunkSize);
      const bytes = buffer.subarray(0, length);
      await readExactly(args.fh, bytes, task.index * op.chunkSize, ctx, args.signal);
      const sums = chunkChecksums(bytes);
      const key = chunkKey(op.keyPrefix, task.index);
      if (task.expectedSha256 === undefined) {
        args.whole.update(bytes);
        args.whole.chunkHashed(sums.sha256);
      } else if (task.expectedSha256 !== sums.sha256) {
        throw new StorageError(
          'HASH_MISMATCH',
          `source ${op.sourcePath} changed while resuming: chunk ${task.index} (${key}) hashed ${task.expectedSha256}, now ${sums.sha256}`,
          { operationId: op.id, chunkIndex: task.index, key },
        );
      }
      const completeWith = args.completesOnCommit ? args.whole.digest() : undefined;
      const putAndCommit = async (): Promise<void> => {
        // Deliberately without the cancel signal: an aborted PUT can still land (a late answer, or a server that keeps
        // partial bodies) after the compensation deleted the prefix. Cancellation stops new chunks; the call timeout
        // bounds the ones in flight, and the upload returns only when they are done.
        // Where the chunk's bytes become an object: compressed and encrypted here, deterministically (see chunk-codec.ts).
        const encoded = await encodeChunk({ operationId: op.id, index: task.index }, bytes, sums, args.encoding, slot.scratch);
        await deps.chunkStore.put(key, encoded.body, encoded.stored);
        const commit = await commitChunk(deps.db, {
          operationId: op.id,
          chunkIndex: task.index,
          key,
          size: length,
          sha256: sums.sha256,
          md5: sums.md5,
          codec: encoded.codec,
          nonce: encoded.nonce,
          // Null stored columns mean "stored as the source": a plain chunk's row reads as it did before encoding existed.
          ...(encoded.body === bytes ? {} : { storedSize: encoded.storedSize, storedSha256: encoded.stored.sha256, storedMd5: encoded.stored.md5 }),
        }, completeWith);
        completed ||= commit.completed;
      };
      const settled: Promise<void> = putAndCommit().then(
        () => {
          free.push(slot);
          uploaded += 1;
          progress.uploaded(length);
          progress.emit('uploading');
        },
        (error: unknown) => {
          failure ??= { error };
        },
      ).then(() => void inFlight.delete(settled));
      inFlight.add(settled);
    }
  } catch (error) {
    failure ??= { error };
  }
  // Never return while a PUT is still running: a compensation that follows must find every object.
  await Promise.all(inFlight);
  if (failure) throw failure.error;
  return { uploaded, completed };
}

function cancelledError(operationId: string, why: string, cause?: unknown): StorageError {
  return new StorageError('CANCELLED', `upload ${operationId} stopped: ${why}`, { operationId, cause });
}
