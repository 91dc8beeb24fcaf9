// Relational metadata of an ingested document (the relational downstream store).
import { bigint, index, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/** One row per document; written last by the ingestion saga, removed first on rollback. */
export const documents = pgTable(
  'documents',
  {
    id: uuid('id').primaryKey(),
    title: text('title').notNull(),
    category: text('category'),
    securityLevel: text('security_level'),
    sourcePath: text('source_path').notNull(),
    size: bigint('size', { mode: 'number' }).notNull(),
    sha256: text('sha256').notNull(),
    operationId: text('operation_id'),
    chunkCount: integer('chunk_count').notNull(),
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    index('documents_sha256_idx').on(t.sha256),
    // Retention and the orphan reaper ask whether any document is served from an operation.
    index('documents_operation_id_idx').on(t.operationId),
  ],
);
