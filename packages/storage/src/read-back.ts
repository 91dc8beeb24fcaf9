// Reading stored chunks back: each object fetched whole (one chunk at a time), checked against its stored size and
// hash, authenticated and decrypted, decompressed, and checked against its source hash before a byte of it is served.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { StorageError } from './errors.ts';
import type { ChunkCallOptions, ChunkStore } from './chunk-store.ts';
import { type ChunkCipher, type ChunkCodec, decompressChunk, decryptChunk } from './chunk-codec.ts';
import type { ManifestRow } from './manifest.ts';

/** Everything needed to read one chunk back, whether it comes from a manifest row or from the bucket's manifest object. */
export interface StoredChunkRef {
  operationId: string;
  index: number;
  key: string;
  codec: ChunkCodec;
  /** Hex nonce of an encrypted chunk, else null. */
  nonce: string | null;
  /** Source length and SHA-256. */
  size: number;
  sha256: string;
  /** Stored (object) length and SHA-256. */
  storedSize: number;
  storedSha256: string;
}

/** The ref of a manifest row (rows from before encoding existed are raw and stored as their source). */
export function chunkRefOf(row: ManifestRow): StoredChunkRef {
  return {
    operationId: row.operationId,
    index: row.chunkIndex,
    key: row.key,
    codec: row.codec ?? 'raw',
    nonce: row.nonce,
    size: row.size,
    sha256: row.sha256,
    storedSize: row.storedSize ?? row.size,
    storedSha256: row.storedSha256 ?? row.sha256,
  };
}

/**
 * Reads one chunk and returns its verified source bytes. Checks in this order, each with its own code: stored length
 * (SIZE_MISMATCH: a truncated or padded object), authentication tag (CHUNK_AUTH_FAILED: tampered, swapped, replayed),
 * stored SHA-256 (HASH_MISMATCH), zstd frame (CHUNK_CORRUPT), source SHA-256 (HASH_MISMATCH).
 */
export async function readChunk(chunkStore: ChunkStore, ref: StoredChunkRef, cipher: ChunkCipher | undefined, options: ChunkCallOptions = {}): Promise<Buffer> {
  const details = { operationId: ref.operationId, chunkIndex: ref.index, key: ref.key };
  const stored = await chunkStore.read(ref.key, { ...options, maxBytes: ref.storedSize });
  if (stored.length !== ref.storedSize) {
    throw new StorageError('SIZE_MISMATCH', `chunk ${ref.index} (${ref.key}): expected ${ref.storedSize} stored bytes, the server sent ${stored.length}`, details);
  }
  const id = { operationId: ref.operationId, index: ref.index, key: ref.key };
  const encoding = { codec: ref.codec, nonce: ref.nonce, sourceSize: ref.size };
  // An encrypted chunk authenticates first: its tag is the check an attacker cannot forge, and names the cause.
  const payload = decryptChunk(id, stored, encoding, cipher);
  const storedSha = createHash('sha256').update(stored).digest('hex');
  if (storedSha !== ref.storedSha256) {
    throw new StorageError('HASH_MISMATCH', `chunk ${ref.index} (${ref.key}): stored sha256 ${storedSha}, the manifest records ${ref.storedSha256}`, details);
  }
  const source = await decompressChunk(id, payload, encoding);
  if (source.length !== ref.size) {
    throw new StorageError('SIZE_MISMATCH', `chunk ${ref.index} (${ref.key}): decodes to ${source.length} bytes, the manifest records ${ref.size}`, details);
  }
  const sha256 = createHash('sha256').update(source).digest('hex');
  if (sha256 !== ref.sha256) throw new StorageError('HASH_MISMATCH', `chunk ${ref.index} (${ref.key}): decodes to sha256 ${sha256}, the manifest records ${ref.sha256}`, details);
  return source;
}

/** What the whole stream must add up to; checked after the last chunk, before the stream ends. */
export interface ExpectedDocument {
  operationId: string;
  size: number;
  sha256: string;
}

/** A byte stream of the chunks in order, each verified before it is passed on, ending with the whole-file SHA-256 check. */
export function openChunkStream(
  chunkStore: ChunkStore,
  refs: AsyncIterable<StoredChunkRef>,
  cipher: ChunkCipher | undefined,
  expected: ExpectedDocument,
  options: ChunkCallOptions = {},
): Readable {
  async function* bytes(): AsyncGenerator<Uint8Array> {
    const whole = createHash('sha256');
    let size = 0;
    for await (const ref of refs) {
      const source = await readChunk(chunkStore, ref, cipher, options);
      whole.update(source);
      size += source.length;
      yield source;
    }
    const sha256 = whole.digest('hex');
    if (size !== expected.size || sha256 !== expected.sha256) {
      throw new StorageError('HASH_MISMATCH', `operation ${expected.operationId}: read back ${size} bytes sha256 ${sha256}, expected ${expected.size} bytes sha256 ${expected.sha256}`, {
        operationId: expected.operationId,
      });
    }
  }
  // Readable.from pulls the generator only as fast as the consumer reads: one chunk in memory at a time.
  return Readable.from(bytes(), { objectMode: false });
}
