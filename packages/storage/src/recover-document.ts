// Rebuilds a committed document from the bucket alone (its manifest object and chunks) and the key-encryption keys:
// no database. Every chunk is verified as it is written; the output appears under its name only once the whole-file
// SHA-256 matched.
import { rename, rm } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { StorageError } from './errors.ts';
import type { ChunkCallOptions, ChunkStore } from './chunk-store.ts';
import { chunkCountFor } from './chunk-layout.ts';
import { openSealedText } from './chunk-codec.ts';
import type { KeyProvider } from './key-provider.ts';
import { openOperationCipher } from './operation-encoding.ts';
import { type BucketManifest, bucketManifestKey, isBucketManifestKey, readBucketManifest } from './bucket-manifest.ts';
import { type StoredChunkRef, openChunkStream } from './read-back.ts';

/** Options of recoverDocument. */
export interface RecoverDocumentOptions {
  chunkStore: ChunkStore;
  /** Needed for encrypted documents. */
  keyProvider?: KeyProvider;
  /** A document id, an operation id, or an operation's key prefix (contains '/'). */
  target: string;
  /** Where the document goes; written as `<outFile>.partial` and renamed once verified. */
  outFile: string;
  /** Root of the chunk prefixes. Default 'chunks/'. */
  rootPrefix?: string;
  signal?: AbortSignal;
}

/** What was recovered. */
export interface RecoveredDocument {
  documentId: string;
  operationId: string;
  manifestKey: string;
  bytes: number;
  sha256: string;
  chunks: number;
  encrypted: boolean;
  metadata: Record<string, unknown>;
}

/** Finds the document's manifest object, then streams its chunks through every check into `outFile`. */
export async function recoverDocument(options: RecoverDocumentOptions): Promise<RecoveredDocument> {
  const root = options.rootPrefix ?? 'chunks/';
  const callOptions: ChunkCallOptions = options.signal ? { signal: options.signal } : {};
  const { manifest, key } = await locateManifest(options.chunkStore, root, options.target, callOptions);
  const expectedChunks = chunkCountFor(manifest.sourceSize, manifest.chunkSize);
  const total = manifest.chunks.reduce((n, c) => n + c.size, 0);
  if (manifest.chunks.length !== expectedChunks || total !== manifest.sourceSize) {
    throw new StorageError('CHUNK_COUNT_MISMATCH', `${key}: ${manifest.chunks.length} chunks of ${total} bytes, a ${manifest.sourceSize}-byte document needs ${expectedChunks}`, {
      operationId: manifest.operationId,
    });
  }
  const cipher = manifest.encryption
    ? await openOperationCipher({ id: manifest.operationId, keyId: manifest.encryption.keyId, wrappedKey: manifest.encryption.wrappedKey }, options.keyProvider)
    : undefined;
  const metadata: Record<string, unknown> =
    cipher && manifest.sealedMetadata ? (JSON.parse(openSealedText(cipher, manifest.operationId, manifest.sealedMetadata)) as Record<string, unknown>) : (manifest.metadata ?? {});

  async function* refs(): AsyncGenerator<StoredChunkRef> {
    for (const chunk of manifest.chunks) yield { operationId: manifest.operationId, ...chunk };
  }
  const partial = `${options.outFile}.partial`;
  try {
    await pipeline(
      openChunkStream(options.chunkStore, refs(), cipher, { operationId: manifest.operationId, size: manifest.sourceSize, sha256: manifest.sha256 }, callOptions),
      createWriteStream(partial, { flags: 'w', mode: 0o600 }),
    );
    await rename(partial, options.outFile);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
  return {
    documentId: manifest.documentId,
    operationId: manifest.operationId,
    manifestKey: key,
    bytes: manifest.sourceSize,
    sha256: manifest.sha256,
    chunks: manifest.chunks.length,
    encrypted: cipher !== undefined,
    metadata,
  };
}

/**
 * A prefix or operation id names the manifest object directly; a document id is looked for among the manifest
 * objects under the root (a listing of the bucket: this is a recovery tool for when the database is gone).
 */
async function locateManifest(chunkStore: ChunkStore, root: string, target: string, callOptions: ChunkCallOptions): Promise<{ manifest: BucketManifest; key: string }> {
  const direct = target.includes('/') ? bucketManifestKey(target.endsWith('/') ? target : `${target}/`) : bucketManifestKey(`${root}${target}/`);
  const found = await readBucketManifest(chunkStore, direct, callOptions);
  if (found) return { manifest: found, key: direct };
  if (!target.includes('/')) {
    for await (const object of chunkStore.list(root, callOptions)) {
      if (!isBucketManifestKey(object.key)) continue;
      const manifest = await readBucketManifest(chunkStore, object.key, callOptions);
      if (manifest?.documentId === target) return { manifest, key: object.key };
    }
  }
  throw new StorageError('OPERATION_NOT_FOUND', `no manifest object for ${target} in bucket ${chunkStore.bucket} (looked at ${direct}${target.includes('/') ? '' : ` and every manifest under ${root}`})`);
}
