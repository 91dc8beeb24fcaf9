// A document's stable identity and its versions: the head points at the current version, switched in one UPDATE
// when a replacement commits; each version's data lives under its own version id in every store.
import { index, integer, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

/** One row per stable document id: which version is current, and whether the document is active, deleting or deleted. */
export const documentHeads = pgTable(
  'document_heads',
  {
    id: uuid('id').primaryKey(),
    currentVersionId: uuid('current_version_id').notNull(),
    version: integer('version').notNull(),
    /** `active`, `deleting` (a deletion saga is running) or `deleted`. */
    status: text('status').notNull().default('active'),
    deleteSagaId: text('delete_saga_id'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    deletedAt: timestamp('deleted_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [index('document_heads_created_idx').on(t.createdAt, t.id), index('document_heads_status_idx').on(t.status)],
);

/** One row per committed version: its data's id in every store, its upload operation, and where it is in its life. */
export const documentVersions = pgTable(
  'document_versions',
  {
    versionId: uuid('version_id').primaryKey(),
    documentId: uuid('document_id').notNull(),
    version: integer('version').notNull(),
    previousVersionId: uuid('previous_version_id'),
    sagaId: text('saga_id'),
    operationId: text('operation_id'),
    /** `current`, `replaced` (superseded, removal pending), `removing` or `removed`. */
    status: text('status').notNull().default('current'),
    removeSagaId: text('remove_saga_id'),
    committedAt: timestamp('committed_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    supersededAt: timestamp('superseded_at', { withTimezone: true, mode: 'date' }),
    removedAt: timestamp('removed_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [uniqueIndex('document_versions_document_version_idx').on(t.documentId, t.version), index('document_versions_status_idx').on(t.status)],
);
