// The manifest: one row per chunk stored, committed after its PUT succeeded; the resume point of an upload.
import { integer, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import { uploadOperations } from './upload-operations.ts';
import { CHUNK_CODECS } from '../chunk-codec.ts';

/** Manifest rows; (operation_id, chunk_index) is unique, so a replayed commit cannot duplicate a chunk. */
export const uploadChunks = pgTable(
  'upload_chunks',
  {
    operationId: text('operation_id')
      .notNull()
      .references(() => uploadOperations.id, { onDelete: 'cascade' }),
    chunkIndex: integer('chunk_index').notNull(),
    key: text('key').notNull(),
    /** Source bytes of the chunk: length and checksums (read-back checks the decoded chunk against these). */
    size: integer('size').notNull(),
    sha256: text('sha256').notNull(),
    md5: text('md5').notNull(),
    /** 'raw' or 'zstd'; null on rows written before encoding existed (raw). */
    codec: text('codec', { enum: CHUNK_CODECS }),
    /** Hex AES-GCM nonce when the chunk is encrypted, else null. */
    nonce: text('nonce'),
    /** The object's bytes as stored: length and checksums (the gate compares the server's against these); null means equal to the source. */
    storedSize: integer('stored_size'),
    storedSha256: text('stored_sha256'),
    storedMd5: text('stored_md5'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.operationId, t.chunkIndex] })],
);
