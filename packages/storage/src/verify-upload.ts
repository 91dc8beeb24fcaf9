// The integrity gate (DESIGN §4): manifest vs source size and chunk count, stored objects vs manifest, source re-hashed vs the upload's hash.
import type { FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import { StorageError } from './errors.ts';
import type { StorageDb } from './db.ts';
import type { ChunkStore } from './chunk-store.ts';
import { forEachBounded } from './bounded.ts';
import { expectedHex } from './checksums.ts';
import { chunkCountFor } from './chunk-layout.ts';
import { createManifestChecker } from './manifest-check.ts';
import {
  type ManifestRow,
  type OperationRecord,
  isWholeManifest,
  manifestRows,
  manifestRowsFrom,
  requireOperationWithFirstPage,
  storedChecksums,
} from './manifest.ts';
import type { KeyProvider } from './key-provider.ts';
import { openOperationCipher } from './operation-encoding.ts';
import { hashSourceChunks } from './source-file.ts';
import { createWholeFileHash } from './whole-file-hash.ts';
import { type SourceIdentity, closeSource, openValidatedSourceStat, sourceRootOf } from './validated-source.ts';

/** What the gate proved. */
export interface VerificationReport {
  operationId: string;
  chunkCount: number;
  totalBytes: number;
  sha256: string;
}

/** Collaborators of the gate. */
export interface VerifyDeps {
  db: StorageDb;
  chunkStore: ChunkStore;
  /** Parallel HEAD calls. */
  parallelism: number;
  manifestPageSize: number;
  keyProvider: KeyProvider | undefined;
  logger: Logger | undefined;
  /** The directory sources must stay inside (undefined: the source's own directory). */
  sourceRoot: string | undefined;
}

/** Per-run options of verify(). */
export interface VerifyOptions {
  /** Aborts the gate (S3 calls and source reads fail as CANCELLED). */
  signal?: AbortSignal;
  /** The source's identity fixed at validation: any other file at its path is refused (SOURCE_REPLACED), never hashed. */
  source?: SourceIdentity;
}

/** Runs every check; the first mismatch throws a fatal StorageError naming the chunk/key and expected vs actual. */
export async function verifyUpload(deps: VerifyDeps, operationId: string, options: VerifyOptions = {}): Promise<VerificationReport> {
  const read = await requireOperationWithFirstPage(deps.db, operationId, deps.manifestPageSize);
  const op = read.op;
  const log = deps.logger?.child({ operationId });
  const fail = (code: 'CHUNK_COUNT_MISMATCH' | 'SIZE_MISMATCH' | 'HASH_MISMATCH', message: string, row?: ManifestRow): StorageError =>
    new StorageError(code, `verify ${operationId}: ${message}`, { operationId, ...(row ? { chunkIndex: row.chunkIndex, key: row.key } : {}) });
  const expectedCount = chunkCountFor(op.sourceSize, op.chunkSize);

  // The manifest is passed over three times (1, 4, 5). A manifest that fits in the page read with the operation is
  // passed over from memory (at most a page of rows): one read per verification instead of four. Those passes all see
  // that one read, so a row deleted after it is not noticed through the manifest (re-reading a longer manifest can
  // notice a row deleted between two passes, never one deleted after the last); what the gate exists for is still
  // checked live: each chunk's object is HEADed on the server (4: a chunk deleted by then is missing) and the source
  // is re-hashed against the rows and the recorded whole-file hash (5). A longer manifest is streamed page by page
  // for each pass, as before.
  const rows = (): AsyncGenerator<ManifestRow> => (isWholeManifest(read) ? manifestRowsFrom(deps.db, read) : manifestRows(deps.db, op.id, deps.manifestPageSize));

  // 1. The manifest is whole and consistent with the operation.
  const checker = createManifestChecker(op);
  for await (const row of manifestRowsFrom(deps.db, read)) checker.check(row);
  if (checker.count !== expectedCount) {
    throw fail('CHUNK_COUNT_MISMATCH', `manifest has ${checker.count} chunks, a source of ${op.sourceSize} bytes needs ${expectedCount}`);
  }
  if (op.status !== 'completed' || !op.sha256) {
    throw new StorageError('UPLOAD_INCOMPLETE', `verify ${operationId}: the upload is ${op.status}, not completed`, { operationId });
  }

  // 2. An encrypted document can be read back: its data key still unwraps (KEY_UNAVAILABLE, CHUNK_AUTH_FAILED otherwise).
  await openOperationCipher(op, deps.keyProvider);

  // 3. The source is still the file validated, with the size it was uploaded with.
  const signal = options.signal;
  const loc = { operationId, path: op.sourcePath, root: sourceRootOf(deps.sourceRoot, op.sourcePath) };
  const { fh, size } = await openValidatedSourceStat(loc, options.source, signal);
  try {
    if (checker.totalBytes !== size) {
      throw fail('SIZE_MISMATCH', `manifest totals ${checker.totalBytes} bytes, source ${op.sourcePath} is now ${size} bytes`);
    }

    // 4. What the server stored: each chunk's size and checksum as the server reports them (or as read back).
    await forEachBounded(rows(), deps.parallelism, (row) => checkStoredChunk(deps, row, fail, signal));

    // 5. The source, hashed again, is what was uploaded; per-chunk hashes name the first chunk that differs.
    await checkSourceHash(op, rows(), fh, fail, signal);
  } finally {
    await closeSource(fh, signal);
  }

  log?.debug({ chunkCount: expectedCount, totalBytes: op.sourceSize }, 'upload verified');
  return { operationId, chunkCount: expectedCount, totalBytes: op.sourceSize, sha256: op.sha256 };
}

type Fail = (code: 'CHUNK_COUNT_MISMATCH' | 'SIZE_MISMATCH' | 'HASH_MISMATCH', message: string, row?: ManifestRow) => StorageError;

async function checkStoredChunk(deps: VerifyDeps, row: ManifestRow, fail: Fail, signal: AbortSignal | undefined): Promise<void> {
  const callOptions = signal ? { signal } : {};
  // The object's bytes are compared with what was stored (compressed, encrypted), not with the source.
  const want = storedChecksums(row);
  const stored = await deps.chunkStore.head(row.key, callOptions);
  if (!stored) throw fail('CHUNK_COUNT_MISMATCH', `chunk ${row.chunkIndex} (${row.key}) is missing on the server`, row);
  if (stored.size !== want.size) {
    throw fail('SIZE_MISMATCH', `chunk ${row.chunkIndex} (${row.key}): expected ${want.size} bytes, server stores ${stored.size}`, row);
  }
  if (stored.checksum) {
    const expected = expectedHex(want, stored.checksum.algorithm);
    if (stored.checksum.hex !== expected) {
      throw fail('HASH_MISMATCH', `chunk ${row.chunkIndex} (${row.key}): expected ${stored.checksum.algorithm} ${expected}, server reports ${stored.checksum.hex}`, row);
    }
    return;
  }
  // The server reports no checksum we can compare (e.g. a KMS-encrypted object on a server without SHA-256 support): read it back.
  const read = await deps.chunkStore.hash(row.key, callOptions);
  if (read.size !== want.size || read.sha256 !== want.sha256) {
    throw fail('HASH_MISMATCH', `chunk ${row.chunkIndex} (${row.key}): expected ${want.size} bytes sha256 ${want.sha256}, read back ${read.size} bytes sha256 ${read.sha256}`, row);
  }
}

async function checkSourceHash(op: OperationRecord, rows: AsyncGenerator<ManifestRow>, fh: FileHandle, fail: Fail, signal: AbortSignal | undefined): Promise<void> {
  const ctx = { operationId: op.id, path: op.sourcePath };
  try {
    const endIndex = chunkCountFor(op.sourceSize, op.chunkSize);
    const whole = createWholeFileHash(endIndex);
    await hashSourceChunks({
      fh,
      ctx,
      sourceSize: op.sourceSize,
      chunkSize: op.chunkSize,
      endIndex,
      whole,
      signal,
      onChunk: async (index, sha256) => {
        const next = await rows.next();
        // The manifest was checked complete above; a row missing now was deleted concurrently (seen only when the
        // manifest is read again, i.e. longer than a page).
        if (next.done || next.value.chunkIndex !== index) throw fail('CHUNK_COUNT_MISMATCH', `chunk ${index} vanished from the manifest during verification`);
        if (next.value.sha256 !== sha256) {
          throw fail('HASH_MISMATCH', `source ${op.sourcePath} was modified: chunk ${index} (${next.value.key}) uploaded with sha256 ${next.value.sha256}, source now ${sha256}`, next.value);
        }
      },
    });
    const sha256 = whole.digest();
    if (sha256 !== op.sha256) throw fail('HASH_MISMATCH', `source ${op.sourcePath} hashes to ${sha256}, the upload recorded ${op.sha256}`);
  } finally {
    await rows.return(undefined);
  }
}
