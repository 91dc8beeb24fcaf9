// The manifest object written next to a committed document's chunks, so that the bucket alone says which objects
// form the document, in what order, how each is encoded, and under which wrapped key (see recover-document.ts).
import { StorageError } from './errors.ts';
import type { ChunkCallOptions, ChunkStore } from './chunk-store.ts';
import { chunkChecksums, isSha256Hex } from './checksums.ts';
import { CHUNK_CODECS, sealText } from './chunk-codec.ts';
import type { OperationRecord } from './manifest.ts';
import type { StoredChunkRef } from './read-back.ts';
import type { ChunkCipher } from './chunk-codec.ts';

/** Name of the manifest object inside an operation's prefix. */
export const BUCKET_MANIFEST_NAME = 'manifest.json';
const FORMAT = 'ingest-document-manifest/v1';
// A manifest holds ~250 bytes per chunk: 64 MiB covers more than 200 000 chunks (1.6 TB at 8 MiB chunks).
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

/** The manifest object's key for an operation's prefix (ends in '/'). */
export function bucketManifestKey(keyPrefix: string): string {
  return `${keyPrefix}${BUCKET_MANIFEST_NAME}`;
}

/** Whether a listed key is an operation's manifest object rather than a chunk. */
export function isBucketManifestKey(key: string): boolean {
  return key.endsWith(`/${BUCKET_MANIFEST_NAME}`);
}

/** One chunk as the manifest object describes it. */
export type BucketManifestChunk = Omit<StoredChunkRef, 'operationId'>;

/** The manifest object. Chunk keys are absolute bucket keys, in index order. */
export interface BucketManifest {
  format: typeof FORMAT;
  documentId: string;
  operationId: string;
  keyPrefix: string;
  sourceSize: number;
  chunkSize: number;
  /** Whole-file SHA-256 of the source bytes. */
  sha256: string;
  compression: { codec: 'zstd'; level: number; minSavingsPercent: number } | null;
  encryption: { algorithm: 'AES-256-GCM'; keyId: string; wrappedKey: string } | null;
  /** The document's metadata in the clear, for documents stored in the clear. */
  metadata: Record<string, unknown> | null;
  /** The metadata sealed under the document's data key (base64), for encrypted documents: titles leak too. */
  sealedMetadata: string | null;
  chunks: BucketManifestChunk[];
  writtenAt: string;
}

/** Builds the manifest object of a completed operation from its (already checked, complete) chunk refs. */
export async function buildBucketManifest(
  op: OperationRecord,
  refs: AsyncIterable<StoredChunkRef>,
  document: { documentId: string; metadata: Record<string, unknown> },
  cipher: ChunkCipher | undefined,
): Promise<BucketManifest> {
  if (op.status !== 'completed' || !op.sha256) {
    throw new StorageError('UPLOAD_INCOMPLETE', `operation ${op.id} is ${op.status}; only a completed upload gets a manifest object`, { operationId: op.id });
  }
  // Keys and hashes, not bytes: ~250 bytes per chunk.
  const chunks: BucketManifestChunk[] = [];
  for await (const { operationId: _, ...chunk } of refs) chunks.push(chunk);
  const metadataJson = JSON.stringify(document.metadata);
  return {
    format: FORMAT,
    documentId: document.documentId,
    operationId: op.id,
    keyPrefix: op.keyPrefix,
    sourceSize: op.sourceSize,
    chunkSize: op.chunkSize,
    sha256: op.sha256,
    compression: op.compressionLevel === null ? null : { codec: 'zstd', level: op.compressionLevel, minSavingsPercent: op.compressionMinSavings ?? 0 },
    encryption: op.keyId === null || op.wrappedKey === null ? null : { algorithm: 'AES-256-GCM', keyId: op.keyId, wrappedKey: op.wrappedKey },
    metadata: cipher ? null : document.metadata,
    sealedMetadata: cipher ? sealText(cipher, op.id, metadataJson) : null,
    chunks,
    writtenAt: new Date().toISOString(),
  };
}

/** PUTs the manifest object (idempotent: rewriting it is harmless). */
export async function writeBucketManifest(chunkStore: ChunkStore, manifest: BucketManifest, options: ChunkCallOptions = {}): Promise<string> {
  const key = bucketManifestKey(manifest.keyPrefix);
  const body = Buffer.from(`${JSON.stringify(manifest, null, 1)}\n`, 'utf8');
  await chunkStore.put(key, body, chunkChecksums(body), options);
  return key;
}

/** Reads and validates a manifest object; METADATA_CORRUPT when it is not one. Undefined when there is none. */
export async function readBucketManifest(chunkStore: ChunkStore, key: string, options: ChunkCallOptions = {}): Promise<BucketManifest | undefined> {
  const head = await chunkStore.head(key, options);
  if (!head) return undefined;
  if (head.size > MAX_MANIFEST_BYTES) throw new StorageError('METADATA_CORRUPT', `${key} is ${head.size} bytes, more than a manifest object can be`, { key });
  const body = await chunkStore.read(key, { ...options, maxBytes: head.size });
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new StorageError('METADATA_CORRUPT', `${key} is not JSON`, { key });
  }
  return validate(parsed, key);
}

function validate(value: unknown, key: string): BucketManifest {
  const bad = (why: string): StorageError => new StorageError('METADATA_CORRUPT', `manifest object ${key}: ${why}`, { key });
  const m = value as Partial<BucketManifest> | null;
  if (!m || typeof m !== 'object' || m.format !== FORMAT) throw bad(`not a ${FORMAT} manifest`);
  if (typeof m.operationId !== 'string' || typeof m.documentId !== 'string' || typeof m.keyPrefix !== 'string') throw bad('ids missing');
  if (!Number.isSafeInteger(m.sourceSize) || !Number.isSafeInteger(m.chunkSize) || !isSha256Hex(m.sha256)) throw bad('sizes or whole-file sha256 missing');
  if (!Array.isArray(m.chunks)) throw bad('no chunk list');
  const encrypted = m.encryption !== null && m.encryption !== undefined;
  if (encrypted && (typeof m.encryption?.keyId !== 'string' || typeof m.encryption.wrappedKey !== 'string')) throw bad('encryption without key id or wrapped key');
  m.chunks.forEach((c, i) => {
    if (c.index !== i) throw bad(`chunk ${i} is listed as index ${String(c.index)}`);
    if (typeof c.key !== 'string' || !c.key.startsWith(m.keyPrefix ?? '')) throw bad(`chunk ${i} key outside the document's prefix`);
    if (!CHUNK_CODECS.includes(c.codec)) throw bad(`chunk ${i} has an unknown codec`);
    if (encrypted !== (typeof c.nonce === 'string')) throw bad(`chunk ${i} nonce does not match the document's encryption`);
    if (!Number.isSafeInteger(c.size) || !Number.isSafeInteger(c.storedSize) || !isSha256Hex(c.sha256) || !isSha256Hex(c.storedSha256)) throw bad(`chunk ${i} sizes or hashes missing`);
  });
  return m as BucketManifest;
}
