// Security and identity of a document: who asked for it, its classification and content hash, and an audit trail.
import { bigint, index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/** One row per document. */
export const securityRecords = pgTable('security_records', {
  documentId: uuid('document_id').primaryKey(),
  contentSha256: text('content_sha256').notNull(),
  classification: text('classification').notNull(),
  requestedBy: text('requested_by').notNull(),
  requestedAt: timestamp('requested_at', { withTimezone: true, mode: 'date' }).notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

/** Append-only audit trail; it deliberately outlives the record it describes. */
export const securityAudit = pgTable(
  'security_audit',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    documentId: uuid('document_id').notNull(),
    action: text('action').notNull(),
    actor: text('actor').notNull(),
    at: timestamp('at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [index('security_audit_document_idx').on(t.documentId)],
);
