// Checks manifest rows against their operation as they stream by, so a damaged manifest is refused instead of trusted.
import { StorageError } from './errors.ts';
import { chunkCountFor, chunkKey, chunkLengthAt } from './chunk-layout.ts';
import { isMd5Hex, isSha256Hex } from './checksums.ts';
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
