// An operation's encoding: chosen and keyed once at creation, reopened (data key unwrapped) by every run that reads or writes its chunks.
import { randomBytes } from 'node:crypto';
import { StorageError } from './errors.ts';
import { type ChunkCipher, type CompressionSettings, chunkCipher } from './chunk-codec.ts';
import type { KeyProvider } from './key-provider.ts';
import { type ResolvedEncoding, mustEncrypt } from './encoding-options.ts';

/** The encoding columns of an upload operation. */
export interface OperationEncodingColumns {
  compressionLevel: number | null;
  compressionMinSavings: number | null;
  keyId: string | null;
  wrappedKey: string | null;
}

/** What encodes and decodes one operation's chunks. */
export interface OperationEncoding {
  compression: CompressionSettings | undefined;
  cipher: ChunkCipher | undefined;
}

/** Picks the encoding of a new operation and, when it is encrypted, generates and wraps its data key. */
export async function newOperationEncoding(encoding: ResolvedEncoding, operationId: string, securityLevel: string | undefined): Promise<OperationEncodingColumns> {
  const columns: OperationEncodingColumns = {
    compressionLevel: encoding.compression?.level ?? null,
    compressionMinSavings: encoding.compression?.minSavingsPercent ?? null,
    keyId: null,
    wrappedKey: null,
  };
  if (!mustEncrypt(encoding.encryptAtRest, securityLevel)) return columns;
  if (!encoding.keyProvider?.activeKeyId()) {
    throw new StorageError(
      'KEY_UNAVAILABLE',
      `operation ${operationId} must be encrypted (${securityLevel ? `security level ${securityLevel}` : 'policy always'}) and no active key-encryption key is configured`,
      { operationId },
    );
  }
  const dataKey = randomBytes(32);
  try {
    const wrapped = await encoding.keyProvider.wrap(dataKey, { operationId });
    return { ...columns, keyId: wrapped.keyId, wrappedKey: wrapped.wrapped };
  } finally {
    dataKey.fill(0);
  }
}

/** Unwraps an operation's data key (KEY_UNAVAILABLE when its KEK is gone) and returns its encoding. */
export async function openOperationEncoding(op: OperationEncodingColumns & { id: string }, keyProvider: KeyProvider | undefined): Promise<OperationEncoding> {
  const compression =
    op.compressionLevel !== null ? { level: op.compressionLevel, minSavingsPercent: op.compressionMinSavings ?? 0 } : undefined;
  return { compression, cipher: await openOperationCipher(op, keyProvider) };
}

/** The chunk cipher of an encrypted operation, undefined for one in the clear. */
export async function openOperationCipher(op: Pick<OperationEncodingColumns, 'keyId' | 'wrappedKey'> & { id: string }, keyProvider: KeyProvider | undefined): Promise<ChunkCipher | undefined> {
  if (op.keyId === null && op.wrappedKey === null) return undefined;
  if (op.keyId === null || op.wrappedKey === null) {
    throw new StorageError('METADATA_CORRUPT', `operation ${op.id} records ${op.keyId === null ? 'a wrapped key without a key id' : `key id ${op.keyId} without a wrapped key`}`, { operationId: op.id });
  }
  if (!keyProvider) throw new StorageError('KEY_UNAVAILABLE', `operation ${op.id} is encrypted under key ${op.keyId} and this process has no key provider`, { operationId: op.id });
  const dataKey = await keyProvider.unwrap({ keyId: op.keyId, wrapped: op.wrappedKey }, { operationId: op.id });
  try {
    return chunkCipher(dataKey);
  } finally {
    dataKey.fill(0);
  }
}
