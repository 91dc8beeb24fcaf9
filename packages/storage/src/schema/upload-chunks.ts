// The manifest: one row per chunk stored, committed after its PUT succeeded; the resume point of an upload.
import { integer, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import { uploadOperations } from './upload-operations.ts';

/** Manifest rows; (operation_id, chunk_index) is unique, so a replayed commit cannot duplicate a chunk. */
export const uploadChunks = pgTable(
  'upload_chunks',
  {
    operationId: text('operation_id')
      .notNull()
      .references(() => uploadOperations.id, { onDelete: 'cascade' }),
    chunkIndex: integer('chunk_index').notNull(),
    key: text('key').notNull(),
    size: integer('size').notNull(),
    sha256: text('sha256').notNull(),
    md5: text('md5').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.operationId, t.chunkIndex] })],
);
