// How many rows a downstream store holds for one document: what the store registry's exists() and the checker ask.
import { and, count, eq } from 'drizzle-orm';
import { storageSchema } from '@ingest/storage';
import type { RowStore } from './invariants/violation.ts';
import type { StorageDatabase } from './stores.ts';
import { isUuid } from './uuid.ts';

const { documents, vectorChunks, graphNodes, graphEdges, securityRecords } = storageSchema;

/** Rows of `documentId` in `store`, read from that store's database. */
export async function countRowsIn(db: StorageDatabase, store: RowStore, documentId: string): Promise<number> {
  const uuid = isUuid(documentId);
  const n = async (q: Promise<{ n: number }[]>): Promise<number> => Number((await q)[0]?.n ?? 0);
  switch (store) {
    case 'relational':
      return uuid ? n(db.select({ n: count() }).from(documents).where(eq(documents.id, documentId))) : 0;
    case 'vector':
      return uuid ? n(db.select({ n: count() }).from(vectorChunks).where(eq(vectorChunks.documentId, documentId))) : 0;
    case 'security':
      return uuid ? n(db.select({ n: count() }).from(securityRecords).where(eq(securityRecords.documentId, documentId))) : 0;
    case 'graph': {
      const nodes = await n(db.select({ n: count() }).from(graphNodes).where(and(eq(graphNodes.id, documentId), eq(graphNodes.kind, 'document'))));
      const edges = uuid ? await n(db.select({ n: count() }).from(graphEdges).where(eq(graphEdges.documentId, documentId))) : 0;
      return nodes + edges;
    }
  }
}
