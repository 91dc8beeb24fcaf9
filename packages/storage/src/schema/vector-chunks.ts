// Text chunks of a document and their embeddings (the vector downstream store, on plain PostgreSQL).
import { integer, pgTable, primaryKey, real, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/** One row per text chunk; (document_id, chunk_index) makes a replayed insert overwrite instead of duplicate. */
export const vectorChunks = pgTable(
  'vector_chunks',
  {
    documentId: uuid('document_id').notNull(),
    chunkIndex: integer('chunk_index').notNull(),
    content: text('content').notNull(),
    embedding: real('embedding').array().notNull(),
    model: text('model').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.documentId, t.chunkIndex] })],
);
