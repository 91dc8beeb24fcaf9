// Access to the source file: opening, exact positional reads, and the checks that notice it vanished or changed.
import { createHash, type Hash } from 'node:crypto';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { StorageError } from './errors.ts';
import { chunkLengthAt } from './chunk-layout.ts';

/** Ids attached to errors about the source. */
interface SourceContext {
  operationId: string;
  path: string;
}

/** Opens the source for reading; a missing or unreadable file is FILE_NOT_FOUND. */
export async function openSource(ctx: SourceContext): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await open(ctx.path, 'r');
  } catch (err) {
    throw sourceError(err, ctx, 'cannot open');
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new StorageError('FILE_NOT_FOUND', `source ${ctx.path} is not a regular file`, { operationId: ctx.operationId });
    return fh;
  } catch (err) {
    await fh.close();
    throw err instanceof StorageError ? err : sourceError(err, ctx, 'cannot stat');
  }
}

/** Size and mtime of the source by path; FILE_NOT_FOUND when it is gone. */
export async function statSource(ctx: SourceContext): Promise<{ size: number; mtime: Date }> {
  try {
    const st = await stat(ctx.path);
    if (!st.isFile()) throw new StorageError('FILE_NOT_FOUND', `source ${ctx.path} is not a regular file`, { operationId: ctx.operationId });
    return { size: st.size, mtime: st.mtime };
  } catch (err) {
    throw err instanceof StorageError ? err : sourceError(err, ctx, 'cannot stat');
  }
}

/**
 * Checks, by path, that the source is still there with the size it had when the operation started.
 * An open descriptor keeps reading a deleted file on Linux, so deletion is only visible through the path.
 */
export async function assertSourceUnchanged(ctx: SourceContext, expectedSize: number): Promise<void> {
  const { size } = await statSource(ctx);
  if (size !== expectedSize) {
    throw new StorageError('SIZE_MISMATCH', `source ${ctx.path} changed size during the upload: ${expectedSize} bytes at start, now ${size}`, {
      operationId: ctx.operationId,
    });
  }
}

/** Fills `into` from `position`; a file that ends early is SIZE_MISMATCH, a read error FILE_NOT_FOUND. */
export async function readExactly(fh: FileHandle, into: Uint8Array, position: number, ctx: SourceContext): Promise<void> {
  let done = 0;
  while (done < into.byteLength) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await fh.read(into, done, into.byteLength - done, position + done));
    } catch (err) {
      throw sourceError(err, ctx, 'cannot read');
    }
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
  /** Fed every byte read, in order (the whole-file hash). */
  whole: Hash;
  /** Runs before each chunk (cancellation and source checks); may throw. */
  beforeChunk?: (index: number) => Promise<void> | void;
  /** Receives each chunk's SHA-256 once its last byte is read. */
  onChunk: (index: number, sha256: string) => Promise<void> | void;
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
      await readExactly(input.fh, view, start + offset, input.ctx);
      h.update(view);
      input.whole.update(view);
    }
    await input.onChunk(index, h.digest('hex'));
  }
}

function sourceError(err: unknown, ctx: SourceContext, what: string): StorageError {
  const code = (err as { code?: unknown }).code;
  const reason = typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
  return new StorageError('FILE_NOT_FOUND', `${what} source ${ctx.path}: ${reason}`, { operationId: ctx.operationId, cause: err });
}
