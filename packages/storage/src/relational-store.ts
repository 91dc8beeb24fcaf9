// The relational downstream store: one `documents` row of metadata per document, upserted and removed by id.
import { eq } from 'drizzle-orm';
import type { Sql } from 'postgres';
import { storageDb } from './db.ts';
import { type DatabaseStoreOptions, createDatabaseGuard } from './database-guard.ts';
import { assertDocumentId } from './document-id.ts';
import { documents } from './schema/documents.ts';

/** Options of createRelationalStore. */
export type RelationalStoreOptions = DatabaseStoreOptions;

/** A document's metadata row. */
export type DocumentRecord = typeof documents.$inferSelect;

/** A documents row as the upsert returns it (int8 as text; timestamps as text under drizzle's transparent parsers). */
interface DocumentRow {
  id: string;
  title: string;
  category: string | null;
  security_level: string | null;
  source_path: string;
  size: string | number;
  sha256: string;
  operation_id: string | null;
  chunk_count: number;
  metadata: Record<string, unknown>;
  created_at: string | Date;
  updated_at: string | Date;
}

function documentOf(row: DocumentRow): DocumentRecord {
  return {
    id: row.id,
    title: row.title,
    category: row.category,
    securityLevel: row.security_level,
    sourcePath: row.source_path,
    size: Number(row.size),
    sha256: row.sha256,
    operationId: row.operation_id,
    chunkCount: row.chunk_count,
    metadata: row.metadata,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

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
      // postgres.js' tagged template, not drizzle's builder: one of a small document's few statements, and the builder
      // costs several times the statement's own client CPU (see hot-rows.ts). Params that drizzle's transparent
      // serializers would pass through untouched (jsonb) are sent as text.
      const rows = await guard.run(
        'upsert document',
        () =>
          sql<DocumentRow[]>`
            insert into documents (id, title, category, security_level, source_path, size, sha256, operation_id, chunk_count, metadata)
            values (${values.id}, ${values.title}, ${values.category}, ${values.securityLevel}, ${values.sourcePath}, ${values.size}, ${values.sha256},
              ${values.operationId}, ${values.chunkCount}, ${JSON.stringify(values.metadata)}::jsonb)
            on conflict (id) do update set title = excluded.title, category = excluded.category, security_level = excluded.security_level,
              source_path = excluded.source_path, size = excluded.size, sha256 = excluded.sha256, operation_id = excluded.operation_id,
              chunk_count = excluded.chunk_count, metadata = excluded.metadata, updated_at = now()
            returning id, title, category, security_level, source_path, size, sha256, operation_id, chunk_count, metadata, created_at, updated_at`,
        doc.id,
      );
      return documentOf(rows[0]!);
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
