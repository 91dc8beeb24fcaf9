// Reading the source once it is open (validated-source.ts opens it): exact positional reads, abortable, and re-hashing.
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { StorageError } from './errors.ts';
import { chunkLengthAt } from './chunk-layout.ts';
import { closeSource, guarded } from './validated-source.ts';
import type { WholeFileHash } from './whole-file-hash.ts';

/** Ids attached to errors about the source. */
interface SourceContext {
  operationId: string;
  path: string;
}

/**
 * Fills `into` from `position`; a file that ends early is SIZE_MISMATCH, a read error FILE_NOT_FOUND. An abort of
 * `signal` ends the wait at once (CANCELLED), even for a read stuck on a stalled mount.
 */
export async function readExactly(fh: FileHandle, into: Uint8Array, position: number, ctx: SourceContext, signal?: AbortSignal): Promise<void> {
  let done = 0;
  while (done < into.byteLength) {
    const { bytesRead } = await guarded(fh.read(into, done, into.byteLength - done, position + done), ctx, 'cannot read', signal);
    if (bytesRead === 0) {
      throw new StorageError('SIZE_MISMATCH', `source ${ctx.path} ended at byte ${position + done}, expected ${into.byteLength - done} more`, {
        operationId: ctx.operationId,
      });
    }
    done += bytesRead;
  }
}

/** What hashSourceChunks needs. */
export interface HashChunksInput {
  fh: FileHandle;
  ctx: SourceContext;
  sourceSize: number;
  chunkSize: number;
  /** Hash chunks [0, endIndex). */
  endIndex: number;
  /** Fed every byte read, in order, and each chunk's hash (the whole-file hash). */
  whole: WholeFileHash;
  /** Runs before each chunk (cancellation and source checks); may throw. */
  beforeChunk?: (index: number) => Promise<void> | void;
  /** Receives each chunk's SHA-256 once its last byte is read. */
  onChunk: (index: number, sha256: string) => Promise<void> | void;
  /** Aborts a read in progress (CANCELLED). */
  signal?: AbortSignal;
}

// Re-hashing reads through a small window: it needs no chunk-sized buffer.
const WINDOW = 1 << 20;

/** Re-reads the first `endIndex` chunks of the source through a 1 MiB window, reporting each chunk's SHA-256. */
export async function hashSourceChunks(input: HashChunksInput): Promise<void> {
  const window = Buffer.allocUnsafe(Math.min(WINDOW, input.chunkSize, Math.max(1, input.sourceSize)));
  for (let index = 0; index < input.endIndex; index++) {
    await input.beforeChunk?.(index);
    const length = chunkLengthAt(index, input.sourceSize, input.chunkSize);
    const start = index * input.chunkSize;
    const h = createHash('sha256');
    for (let offset = 0; offset < length; offset += window.byteLength) {
      const view = window.subarray(0, Math.min(window.byteLength, length - offset));
      await readExactly(input.fh, view, start + offset, input.ctx, input.signal);
      h.update(view);
      input.whole.update(view);
    }
    const sha256 = h.digest('hex');
    input.whole.chunkHashed(sha256);
    await input.onChunk(index, sha256);
  }
}

const PIECE = 64 * 1024;

/**
 * The bytes of an open source from its start, in 64 KiB pieces, each read abortable; closes the source when the
 * consumer stops (or the signal aborts). For the text the stores read.
 */
export async function* readSourceBytes(fh: FileHandle, ctx: SourceContext, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  try {
    for (let position = 0; ; ) {
      const piece = Buffer.allocUnsafe(PIECE);
      const { bytesRead } = await guarded(fh.read(piece, 0, PIECE, position), ctx, 'cannot read', signal);
      if (bytesRead === 0) return;
      position += bytesRead;
      yield piece.subarray(0, bytesRead);
    }
  } finally {
    await closeSource(fh, signal);
  }
}
