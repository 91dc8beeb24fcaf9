// The upload operation: one streaming upload of one source file, the unit that resume, verify and cleanup work on.
import { sql } from 'drizzle-orm';
import { bigint, check, index, integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/** Lifecycle of an upload operation. */
export const UPLOAD_STATUSES = ['active', 'completed', 'cancelled'] as const;
/** One of UPLOAD_STATUSES. */
export type UploadStatus = (typeof UPLOAD_STATUSES)[number];

/** Upload operations; the manifest rows (upload_chunks) hang off them. */
export const uploadOperations = pgTable(
  'upload_operations',
  {
    id: text('id').primaryKey(),
    /** The saga id or another owner string, for audit and for finding a saga's operation. */
    owner: text('owner').notNull(),
    sourcePath: text('source_path').notNull(),
    /** Size and mtime of the source when the operation started; resume and verify compare against them. */
    sourceSize: bigint('source_size', { mode: 'number' }).notNull(),
    sourceMtime: timestamp('source_mtime', { withTimezone: true, mode: 'date' }).notNull(),
    chunkSize: integer('chunk_size').notNull(),
    /** Every chunk key of the operation starts with this (ends in '/'), so listing it finds orphans too. */
    keyPrefix: text('key_prefix').notNull(),
    status: text('status', { enum: UPLOAD_STATUSES }).notNull().default('active'),
    /** Whole-file SHA-256, recorded when the upload completes. */
    sha256: text('sha256'),
    /** Adaptive zstd for this operation's chunks (fixed at creation, so a resume encodes as the first run did); null: off. */
    compressionLevel: integer('compression_level'),
    compressionMinSavings: integer('compression_min_savings'),
    /** Envelope encryption: the KEK id and the operation's data key wrapped under it (base64); null: chunks in the clear. */
    keyId: text('key_id'),
    wrappedKey: text('wrapped_key'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    index('upload_operations_owner_idx').on(t.owner),
    // The janitor looks for active operations that stopped moving.
    index('upload_operations_status_idx').on(t.status, t.updatedAt),
    // Key rotation finds the data keys still wrapped under a retiring KEK.
    index('upload_operations_key_id_idx').on(t.keyId),
    check('upload_operations_status_check', sql`${t.status} in ('active', 'completed', 'cancelled')`),
    check('upload_operations_chunk_size_check', sql`${t.chunkSize} > 0`),
    check('upload_operations_source_size_check', sql`${t.sourceSize} >= 0`),
  ],
);
