// How one chunk's source bytes become the bytes of its S3 object and back: adaptive zstd, then AES-256-GCM.
//
// Nonce: HMAC-SHA-256 (under a nonce key derived from the data key) of the chunk's additional data and its source
// SHA-256, truncated to 96 bits: a synthetic IV. Two encryptions share a nonce only when they encrypt the same bytes
// of the same chunk of the same operation, and then they produce the same object. So a retry, a resume that re-puts
// a chunk whose commit was lost, or a duplicate delivery racing the first one, all PUT identical bytes: a committed
// chunk is never overwritten by a different ciphertext; a changed source gives a new nonce.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync } from 'node:crypto';
import { promisify } from 'node:util';
import { constants, zstdCompress, zstdDecompress } from 'node:zlib';
import { StorageError } from './errors.ts';
import { type ChunkChecksums, chunkChecksums } from './checksums.ts';

/** How a chunk's payload is stored: as is, or as one zstd frame. Encryption is orthogonal (a nonce is recorded). */
export const CHUNK_CODECS = ['raw', 'zstd'] as const;
/** One of CHUNK_CODECS. */
export type ChunkCodec = (typeof CHUNK_CODECS)[number];

/** Adaptive compression: try zstd at `level`; keep it only when it saves at least `minSavingsPercent` of the chunk. */
export interface CompressionSettings {
  /** zstd level, 1..19 (3 is zstd's own default). */
  level: number;
  /** 0..99: a chunk compressed to more than (100 - this)% of its size is stored raw. */
  minSavingsPercent: number;
}

/** The per-operation keys derived from its data key; never logged, never serialized. */
export interface ChunkCipher {
  readonly encryptionKey: Buffer;
  readonly nonceKey: Buffer;
}

/** The identity of a chunk, bound into its authentication tag (additional data). */
export interface ChunkIdentity {
  operationId: string;
  index: number;
}

/** What encodeChunk produced: the object's bytes and what the manifest records about them. */
export interface EncodedChunk {
  body: Uint8Array;
  codec: ChunkCodec;
  /** Hex nonce when encrypted, else null. */
  nonce: string | null;
  storedSize: number;
  stored: ChunkChecksums;
}

/** How a stored chunk was encoded, as its manifest row says. */
export interface ChunkEncoding {
  codec: ChunkCodec;
  nonce: string | null;
  /** Source (decoded) length. */
  sourceSize: number;
}

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const compress = promisify(zstdCompress);
const decompress = promisify(zstdDecompress);

/** Derives the chunk cipher from a document's 32-byte data key (HKDF-SHA-256, one subkey per purpose). */
export function chunkCipher(dataKey: Uint8Array): ChunkCipher {
  const derive = (info: string): Buffer => Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), info, 32));
  return { encryptionKey: derive('ingest-chunk-encryption/v1'), nonceKey: derive('ingest-chunk-nonce/v1') };
}

/** The additional data of a chunk: operation, index, codec and source length, so a swapped, replayed or relabelled chunk fails. */
function additionalData(id: ChunkIdentity, codec: ChunkCodec, sourceSize: number): Buffer {
  return Buffer.from(`ingest-chunk/v1\0${id.operationId}\0${id.index}\0${codec}\0${sourceSize}`);
}

const SAMPLE_SLICES = 4;
const SAMPLE_SLICE_BYTES = 16 * 1024;

/**
 * Whether compressing the whole chunk is worth trying: zstd level 1 over four 16 KiB slices spread across the chunk
 * must save at least half the margin. Incompressible chunks (media, archives, ciphertext) then cost about 1/100 of a
 * full compression. Lenient on purpose: small slices compress worse than the whole chunk does.
 */
async function samplePays(source: Uint8Array, compression: CompressionSettings): Promise<boolean> {
  if (source.byteLength < 4 * SAMPLE_SLICES * SAMPLE_SLICE_BYTES) return true;
  const stride = Math.floor(source.byteLength / SAMPLE_SLICES);
  const sample = Buffer.concat(Array.from({ length: SAMPLE_SLICES }, (_, k) => source.subarray(k * stride, k * stride + SAMPLE_SLICE_BYTES)));
  const probe = await compress(sample, { params: { [constants.ZSTD_c_compressionLevel]: 1 } });
  return probe.byteLength * 100 <= sample.byteLength * (100 - compression.minSavingsPercent / 2);
}

// GCM's update() returns a new buffer per call: feeding it 256 KiB at a time into one preallocated output keeps an
// encrypted chunk at one extra copy instead of three (update output, concatenation, tag).
const SLICE_BYTES = 256 * 1024;
function transformInto(c: { update(data: Uint8Array): Buffer }, input: Uint8Array, output: Buffer): number {
  let written = 0;
  for (let offset = 0; offset < input.byteLength; offset += SLICE_BYTES) {
    written += c.update(input.subarray(offset, Math.min(input.byteLength, offset + SLICE_BYTES))).copy(output, written);
  }
  return written;
}

/** Encodes one chunk. `sourceSums` are the source bytes' checksums, already computed by the caller. */
export async function encodeChunk(
  id: ChunkIdentity,
  source: Uint8Array,
  sourceSums: ChunkChecksums,
  settings: { compression: CompressionSettings | undefined; cipher: ChunkCipher | undefined },
  /** Where the ciphertext goes when it fits (source length + 16): the uploader recycles one per chunk in flight. */
  scratch?: Buffer,
): Promise<EncodedChunk> {
  let codec: ChunkCodec = 'raw';
  let payload: Uint8Array = source;
  if (settings.compression && source.byteLength > 0 && (await samplePays(source, settings.compression))) {
    // zlib's async API runs on the libuv thread pool: chunks in flight compress in parallel, off the event loop.
    const frame = await compress(source, {
      params: { [constants.ZSTD_c_compressionLevel]: settings.compression.level },
      pledgedSrcSize: source.byteLength,
    });
    if (frame.byteLength * 100 <= source.byteLength * (100 - settings.compression.minSavingsPercent)) {
      codec = 'zstd';
      payload = frame;
    }
  }
  if (!settings.cipher) {
    return { body: payload, codec, nonce: null, storedSize: payload.byteLength, stored: codec === 'raw' ? sourceSums : chunkChecksums(payload) };
  }
  const aad = additionalData(id, codec, source.byteLength);
  const nonce = createHmac('sha256', settings.cipher.nonceKey).update(aad).update(sourceSums.sha256).digest().subarray(0, NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', settings.cipher.encryptionKey, nonce);
  cipher.setAAD(aad);
  const needed = payload.byteLength + TAG_BYTES;
  const body = scratch && scratch.byteLength >= needed ? scratch.subarray(0, needed) : Buffer.allocUnsafe(needed);
  const end = transformInto(cipher, payload, body);
  cipher.final().copy(body, end);
  cipher.getAuthTag().copy(body, payload.byteLength);
  return { body, codec, nonce: nonce.toString('hex'), storedSize: body.byteLength, stored: chunkChecksums(body) };
}

/** Authenticates and decrypts a stored chunk (CHUNK_AUTH_FAILED); never returns a partial plaintext. */
export function decryptChunk(id: ChunkIdentity & { key: string }, stored: Buffer, encoding: ChunkEncoding, cipher: ChunkCipher | undefined): Buffer {
  const details = { operationId: id.operationId, chunkIndex: id.index, key: id.key };
  if (encoding.nonce === null) return stored;
  if (!cipher) throw new StorageError('KEY_UNAVAILABLE', `chunk ${id.index} (${id.key}) is encrypted and no data key was given`, details);
  const nonce = Buffer.from(encoding.nonce, 'hex');
  if (nonce.length !== NONCE_BYTES || stored.length < TAG_BYTES) {
    throw new StorageError('CHUNK_AUTH_FAILED', `chunk ${id.index} (${id.key}): no valid nonce or tag to authenticate it`, details);
  }
  const decipher = createDecipheriv('aes-256-gcm', cipher.encryptionKey, nonce);
  decipher.setAAD(additionalData(id, encoding.codec, encoding.sourceSize));
  decipher.setAuthTag(stored.subarray(stored.length - TAG_BYTES));
  try {
    const plain = Buffer.allocUnsafe(stored.length - TAG_BYTES);
    const end = transformInto(decipher, stored.subarray(0, plain.length), plain);
    decipher.final().copy(plain, end);
    return plain;
  } catch {
    throw new StorageError('CHUNK_AUTH_FAILED', `chunk ${id.index} (${id.key}) does not authenticate: altered, truncated, or not this operation's chunk ${id.index}`, details);
  }
}

/** Decompresses a decrypted payload into exactly `sourceSize` bytes (CHUNK_CORRUPT otherwise); raw payloads pass through. */
export async function decompressChunk(id: ChunkIdentity & { key: string }, payload: Buffer, encoding: ChunkEncoding): Promise<Buffer> {
  if (encoding.codec === 'raw') return payload;
  const details = { operationId: id.operationId, chunkIndex: id.index, key: id.key };
  let out: Buffer;
  try {
    // The bound makes a frame that claims more (a decompression bomb) fail instead of allocating it.
    out = await decompress(payload, { maxOutputLength: Math.max(1, encoding.sourceSize) });
  } catch (err) {
    throw new StorageError('CHUNK_CORRUPT', `chunk ${id.index} (${id.key}): zstd frame does not decode (${(err as { code?: string }).code ?? 'corrupt'})`, { ...details, cause: err });
  }
  if (out.length !== encoding.sourceSize) {
    throw new StorageError('CHUNK_CORRUPT', `chunk ${id.index} (${id.key}): decodes to ${out.length} bytes, the manifest records ${encoding.sourceSize}`, details);
  }
  return out;
}

const sealAad = (operationId: string): Buffer => Buffer.from(`ingest-metadata/v1\0${operationId}`);

/** Encrypts a small JSON text (a document's metadata in the bucket's manifest) under the operation's keys; base64 out. */
export function sealText(cipher: ChunkCipher, operationId: string, text: string): string {
  const plain = Buffer.from(text, 'utf8');
  const nonce = createHmac('sha256', cipher.nonceKey).update(sealAad(operationId)).update(plain).digest().subarray(0, NONCE_BYTES);
  const c = createCipheriv('aes-256-gcm', cipher.encryptionKey, nonce);
  c.setAAD(sealAad(operationId));
  return Buffer.concat([nonce, c.update(plain), c.final(), c.getAuthTag()]).toString('base64');
}

/** Opens sealText's output; CHUNK_AUTH_FAILED when it does not authenticate. */
export function openSealedText(cipher: ChunkCipher, operationId: string, sealed: string): string {
  const body = Buffer.from(sealed, 'base64');
  const fail = (): StorageError => new StorageError('CHUNK_AUTH_FAILED', `sealed metadata of operation ${operationId} does not authenticate`, { operationId });
  if (body.length < NONCE_BYTES + TAG_BYTES) throw fail();
  const d = createDecipheriv('aes-256-gcm', cipher.encryptionKey, body.subarray(0, NONCE_BYTES));
  d.setAAD(sealAad(operationId));
  d.setAuthTag(body.subarray(body.length - TAG_BYTES));
  try {
    return Buffer.concat([d.update(body.subarray(NONCE_BYTES, body.length - TAG_BYTES)), d.final()]).toString('utf8');
  } catch {
    throw fail();
  }
}

/** Bytes an encoded chunk may take at most: a zstd frame never outgrows the raw fallback, GCM adds its tag. */
export function maxStoredSize(sourceSize: number): number {
  return sourceSize + TAG_BYTES;
}
