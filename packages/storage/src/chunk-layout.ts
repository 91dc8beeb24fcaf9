// How a source of a given size splits into chunks, and how chunks are named in the bucket.
import { InvalidOptionError } from './errors.ts';

// Eight digits keep keys in index order when listed, up to 100 million chunks.
const INDEX_DIGITS = 8;
const OPERATION_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Number of chunks of a source: 0 for an empty one. */
export function chunkCountFor(sourceSize: number, chunkSize: number): number {
  return Math.ceil(sourceSize / chunkSize);
}

/** Byte length of chunk `index`: the chunk size, except for a shorter last chunk. */
export function chunkLengthAt(index: number, sourceSize: number, chunkSize: number): number {
  return Math.min(chunkSize, sourceSize - index * chunkSize);
}

/** The key of chunk `index` under an operation's prefix, e.g. chunks/op-1/00000003. */
export function chunkKey(keyPrefix: string, index: number): string {
  return keyPrefix + String(index).padStart(INDEX_DIGITS, '0');
}

/** The prefix all chunks of an operation share; ends in '/' so that one operation's prefix never covers another's. */
export function operationKeyPrefix(rootPrefix: string, operationId: string): string {
  return `${rootPrefix}${operationId}/`;
}

/** Checks an operation id is usable in a key (letters, digits, . _ -; no slash), throwing INVALID_OPTION. */
export function assertOperationId(operationId: string): void {
  if (!OPERATION_ID.test(operationId)) {
    throw new InvalidOptionError('operationId', `must match ${OPERATION_ID.source}, got ${JSON.stringify(operationId)}`);
  }
}
