// The relational downstream store: one `documents` row of metadata per document, upserted and removed by id.
import { eq, sql as raw } from 'drizzle-orm';
import type { Sql } from 'postgres';
import { storageDb } from './db.ts';
import { type DatabaseStoreOptions, createDatabaseGuard } from './database-guard.ts';
import { assertDocumentId } from './document-id.ts';
import { documents } from './schema/documents.ts';

/** Options of createRelationalStore. */
export type RelationalStoreOptions = DatabaseStoreOptions;

/** A document's metadata row. */
export type DocumentRecord = typeof documents.$inferSelect;

/** What upsert writes; `id` is the document's UUID. */
export interface DocumentInput {
  id: string;
  title: string;
  category?: string | null;
  securityLevel?: string | null;
  sourcePath: string;
  size: number;
  sha256: string;
  operationId?: string | null;
  chunkCount: number;
  metadata?: Record<string, unknown>;
}

/** The relational store's operations. */
export interface RelationalStore {
  /** Inserts or replaces the document's row (a replayed step writes the same row again). */
  upsert(doc: DocumentInput): Promise<DocumentRecord>;
  /** Deletes the document's row; true if there was one. Idempotent. */
  remove(documentId: string): Promise<boolean>;
  /** The document's row, or undefined. */
  get(documentId: string): Promise<DocumentRecord | undefined>;
}

/** Creates the relational store over its own connection pool. */
export function createRelationalStore(sql: Sql, options: RelationalStoreOptions = {}): RelationalStore {
  const db = storageDb(sql);
  const guard = createDatabaseGuard('relational', options);
  return {
    async upsert(doc) {
      assertDocumentId(doc.id);
      const values = {
        id: doc.id,
        title: doc.title,
        category: doc.category ?? null,
        securityLevel: doc.securityLevel ?? null,
        sourcePath: doc.sourcePath,
        size: doc.size,
        sha256: doc.sha256,
        operationId: doc.operationId ?? null,
        chunkCount: doc.chunkCount,
        metadata: doc.metadata ?? {},
      };
      const { id: _id, ...changes } = values;
      const rows = await guard.run(
        'upsert document',
        () =>
          db
            .insert(documents)
            .values(values)
            .onConflictDoUpdate({ target: documents.id, set: { ...changes, updatedAt: raw`now()` } })
            .returning(),
        doc.id,
      );
      return rows[0]!;
    },
    async remove(documentId) {
      assertDocumentId(documentId);
      const rows = await guard.run('remove document', () => db.delete(documents).where(eq(documents.id, documentId)).returning({ id: documents.id }), documentId);
      return rows.length > 0;
    },
    async get(documentId) {
      assertDocumentId(documentId);
      const rows = await guard.run('get document', () => db.select().from(documents).where(eq(documents.id, documentId)), documentId);
      return rows[0];
    },
  };
}
