// Checks manifest rows against their operation as they stream by, so a damaged manifest is refused instead of trusted.
import { StorageError } from './errors.ts';
import { chunkCountFor, chunkKey, chunkLengthAt } from './chunk-layout.ts';
import { isMd5Hex, isSha256Hex } from './checksums.ts';
import { CHUNK_CODECS, maxStoredSize } from './chunk-codec.ts';
import type { ManifestRow, OperationRecord } from './manifest.ts';

/** Validates rows given in ascending index order; throws METADATA_CORRUPT naming the row. */
export interface ManifestChecker {
  /** Checks one row; rows must come ordered by index. */
  check(row: ManifestRow): void;
  /** Rows checked so far. */
  readonly count: number;
  /** Sum of the sizes of the rows checked so far. */
  readonly totalBytes: number;
}

/** Creates a checker for one operation's manifest. */
export function createManifestChecker(op: OperationRecord): ManifestChecker {
  const expectedCount = chunkCountFor(op.sourceSize, op.chunkSize);
  const encrypted = op.keyId !== null;
  let previous = -1;
  let count = 0;
  let totalBytes = 0;
  const corrupt = (row: ManifestRow, why: string): StorageError =>
    new StorageError('METADATA_CORRUPT', `manifest of operation ${op.id}, chunk ${row.chunkIndex} (${row.key}): ${why}`, {
      operationId: op.id,
      chunkIndex: row.chunkIndex,
      key: row.key,
    });
  return {
    check(row) {
      if (row.operationId !== op.id) throw corrupt(row, `belongs to operation ${row.operationId}`);
      if (!Number.isInteger(row.chunkIndex) || row.chunkIndex < 0 || row.chunkIndex >= expectedCount) {
        throw corrupt(row, `index out of range: the source has ${expectedCount} chunks`);
      }
      if (row.chunkIndex <= previous) throw corrupt(row, `duplicate or out-of-order index after ${previous}`);
      const expectedSize = chunkLengthAt(row.chunkIndex, op.sourceSize, op.chunkSize);
      if (row.size !== expectedSize) {
        throw corrupt(row, `size ${row.size} does not fit chunk size ${op.chunkSize} and source size ${op.sourceSize} (expected ${expectedSize})`);
      }
      const expectedKey = chunkKey(op.keyPrefix, row.chunkIndex);
      if (row.key !== expectedKey) throw corrupt(row, `key should be ${expectedKey}`);
      if (!isSha256Hex(row.sha256)) throw corrupt(row, `sha256 is not a hex SHA-256: ${JSON.stringify(row.sha256)}`);
      if (!isMd5Hex(row.md5)) throw corrupt(row, `md5 is not a hex MD5: ${JSON.stringify(row.md5)}`);
      checkEncoding(row, encrypted, corrupt);
      previous = row.chunkIndex;
      count += 1;
      totalBytes += row.size;
    },
    get count() {
      return count;
    },
    get totalBytes() {
      return totalBytes;
    },
  };
}

/** Passes rows through, checking them and that they form the complete manifest 0..n-1; a hole is CHUNK_COUNT_MISMATCH. */
export async function* completeManifest(op: OperationRecord, rows: AsyncIterable<ManifestRow>): AsyncGenerator<ManifestRow> {
  const checker = createManifestChecker(op);
  const expected = chunkCountFor(op.sourceSize, op.chunkSize);
  for await (const row of rows) {
    checker.check(row);
    if (row.chunkIndex !== checker.count - 1) {
      throw new StorageError('CHUNK_COUNT_MISMATCH', `operation ${op.id}: chunk ${checker.count - 1} is missing from the manifest`, { operationId: op.id });
    }
    yield row;
  }
  if (checker.count !== expected) {
    throw new StorageError('CHUNK_COUNT_MISMATCH', `operation ${op.id}: manifest has ${checker.count} chunks, expected ${expected}`, { operationId: op.id });
  }
}

/** The encoding columns must describe a decodable chunk: a known codec, a nonce exactly when the operation is encrypted, plausible stored checksums. */
function checkEncoding(row: ManifestRow, encrypted: boolean, corrupt: (row: ManifestRow, why: string) => StorageError): void {
  if (row.codec !== null && !CHUNK_CODECS.includes(row.codec)) throw corrupt(row, `unknown codec ${JSON.stringify(row.codec)}`);
  if (encrypted !== (row.nonce !== null)) throw corrupt(row, encrypted ? 'the operation is encrypted and the chunk has no nonce' : 'a nonce on a chunk of an operation in the clear');
  if (row.nonce !== null && !/^[0-9a-f]{24}$/.test(row.nonce)) throw corrupt(row, 'nonce is not 12 bytes of hex');
  if ((row.storedSize === null) !== (row.storedSha256 === null) || (row.storedSize === null) !== (row.storedMd5 === null)) throw corrupt(row, 'stored size and checksums are recorded only in part');
  if (row.storedSize === null) {
    if ((row.codec ?? 'raw') !== 'raw' || row.nonce !== null) throw corrupt(row, 'an encoded chunk without its stored size and checksums');
    return;
  }
  if (!Number.isInteger(row.storedSize) || row.storedSize < 0 || row.storedSize > maxStoredSize(row.size)) throw corrupt(row, `stored size ${row.storedSize} is impossible for ${row.size} source bytes`);
  if (!isSha256Hex(row.storedSha256)) throw corrupt(row, 'stored sha256 is not a hex SHA-256');
  if (!isMd5Hex(row.storedMd5)) throw corrupt(row, 'stored md5 is not a hex MD5');
}
