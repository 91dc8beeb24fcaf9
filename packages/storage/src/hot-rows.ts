// Operation and manifest rows read with postgres.js' own tagged template on a small document's hot path: drizzle's
// query building and row mapping cost several times the statement's own client CPU (220-450 µs against 50-80 µs a
// statement, measured), and a document issues a handful of them. The column lists and the mapping live here, once.
import type { Sql } from 'postgres';
import type { StorageDb } from './db.ts';
import type { ChunkCodec } from './chunk-codec.ts';
import { UPLOAD_STATUSES, type UploadStatus, type uploadOperations } from './schema/upload-operations.ts';
import type { uploadChunks } from './schema/upload-chunks.ts';

// The row types manifest.ts exports, from the schema itself: manifest.ts builds on this file, not the other way round.
type OperationRecord = typeof uploadOperations.$inferSelect;
type ManifestRow = typeof uploadChunks.$inferSelect;

/** The postgres.js pool under the storage's drizzle handle (same connections, same transaction scope). */
export function rawSql(db: StorageDb): Sql {
  return db.$client;
}

/** upload_operations' columns, from the alias `o`. */
export const OPERATION_COLUMNS = `o.id, o.owner, o.source_path, o.source_size, o.source_mtime, o.chunk_size, o.key_prefix, o.status, o.sha256,
  o.compression_level, o.compression_min_savings, o.key_id, o.wrapped_key, o.created_at, o.updated_at`;

/** upload_chunks' columns, from the alias `c`, prefixed so they can sit beside an operation's. */
export const CHUNK_COLUMNS = `c.operation_id as c_operation_id, c.chunk_index as c_chunk_index, c.key as c_key, c.size as c_size,
  c.sha256 as c_sha256, c.md5 as c_md5, c.codec as c_codec, c.nonce as c_nonce, c.stored_size as c_stored_size,
  c.stored_sha256 as c_stored_sha256, c.stored_md5 as c_stored_md5, c.created_at as c_created_at`;

/** A timestamp as postgres.js returns it: text once drizzle made its parsers transparent, else a Date. */
type Timestamp = string | Date;

/** An upload_operations row as OPERATION_COLUMNS selects it (int8 comes back as text). */
export interface OperationRow {
  id: string;
  owner: string;
  source_path: string;
  source_size: string | number;
  source_mtime: Timestamp;
  chunk_size: number;
  key_prefix: string;
  status: string;
  sha256: string | null;
  compression_level: number | null;
  compression_min_savings: number | null;
  key_id: string | null;
  wrapped_key: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** An upload_chunks row as CHUNK_COLUMNS selects it; all null on the row a left join yields for an empty manifest. */
export interface ChunkRow {
  c_operation_id: string | null;
  c_chunk_index: number | null;
  c_key: string;
  c_size: number;
  c_sha256: string;
  c_md5: string;
  c_codec: string | null;
  c_nonce: string | null;
  c_stored_size: number | null;
  c_stored_sha256: string | null;
  c_stored_md5: string | null;
  c_created_at: Timestamp;
}

/** The typed operation record of a row. */
export function operationOf(row: OperationRow): OperationRecord {
  return {
    id: row.id,
    owner: row.owner,
    sourcePath: row.source_path,
    sourceSize: Number(row.source_size),
    sourceMtime: new Date(row.source_mtime),
    chunkSize: row.chunk_size,
    keyPrefix: row.key_prefix,
    status: statusOf(row.status),
    sha256: row.sha256,
    compressionLevel: row.compression_level,
    compressionMinSavings: row.compression_min_savings,
    keyId: row.key_id,
    wrappedKey: row.wrapped_key,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

/** The typed manifest row of a row, or undefined for the left join's empty side. */
export function manifestRowOf(row: ChunkRow): ManifestRow | undefined {
  if (row.c_operation_id === null || row.c_chunk_index === null) return undefined;
  return {
    operationId: row.c_operation_id,
    chunkIndex: row.c_chunk_index,
    key: row.c_key,
    size: row.c_size,
    sha256: row.c_sha256,
    md5: row.c_md5,
    // An unknown codec is passed through as stored: the manifest checker refuses it (METADATA_CORRUPT) by name.
    codec: row.c_codec as ChunkCodec | null,
    nonce: row.c_nonce,
    storedSize: row.c_stored_size,
    storedSha256: row.c_stored_sha256,
    storedMd5: row.c_stored_md5,
    createdAt: new Date(row.c_created_at),
  };
}

function statusOf(status: string): UploadStatus {
  // The table's check constraint admits nothing else; a value outside it would be a schema this code does not know.
  if (!(UPLOAD_STATUSES as readonly string[]).includes(status)) throw new Error(`upload_operations.status ${JSON.stringify(status)} is not one of ${UPLOAD_STATUSES.join(', ')}`);
  return status as UploadStatus;
}
