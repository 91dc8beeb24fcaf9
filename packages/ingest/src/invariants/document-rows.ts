// How many rows each downstream store holds for one document, and the pages of document ids each store holds.
import { and, asc, count, eq, gt, inArray } from 'drizzle-orm';
import { storageSchema } from '@ingest/storage';
import type { StorageDatabase } from '../stores.ts';
import type { CheckContext } from './check-context.ts';
import type { RowStore } from './violation.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const { documents, vectorChunks, graphNodes, graphEdges, securityRecords } = storageSchema;

/** Whether `id` can be a value of a uuid column (anything else cannot be stored there, so it has no rows). */
export function isUuid(id: string): boolean {
  return UUID.test(id);
}

/** Rows of `documentId` in `store` (graph: the document node plus the edges it owns). */
export async function countDocumentRows(ctx: CheckContext, store: RowStore, documentId: string): Promise<number> {
  return countRowsIn(ctx.storeDb(store), store, documentId);
}

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

/** One source of document ids in a store, read in ascending pages. */
export interface DocumentIdSource {
  store: RowStore;
  /** Names the table in messages. */
  table: string;
  /** The next page after cursor `after` (null: from the start): ids to judge, and the cursor to go on from (null: done). */
  page(after: string | null, limit: number): Promise<DocumentIdPage>;
}

/** One page of document ids. */
export interface DocumentIdPage {
  ids: string[];
  next: string | null;
}

function pageOf(ids: string[], limit: number, judge: string[] = ids): DocumentIdPage {
  return { ids: judge, next: ids.length < limit ? null : (ids[ids.length - 1] ?? null) };
}

/** Every table that holds rows keyed by a document id. */
export function documentIdSources(ctx: CheckContext): DocumentIdSource[] {
  return [
    {
      store: 'relational',
      table: 'documents',
      async page(after, limit) {
        const rows = await ctx
          .storeDb('relational')
          .select({ id: documents.id })
          .from(documents)
          .where(after === null ? undefined : gt(documents.id, after))
          .orderBy(asc(documents.id))
          .limit(limit);
        return pageOf(rows.map((r) => r.id), limit);
      },
    },
    {
      store: 'vector',
      table: 'vector_chunks',
      async page(after, limit) {
        const rows = await ctx
          .storeDb('vector')
          .selectDistinct({ id: vectorChunks.documentId })
          .from(vectorChunks)
          .where(after === null ? undefined : gt(vectorChunks.documentId, after))
          .orderBy(asc(vectorChunks.documentId))
          .limit(limit);
        return pageOf(rows.map((r) => r.id), limit);
      },
    },
    {
      store: 'graph',
      table: 'graph_nodes',
      async page(after, limit) {
        const rows = await ctx
          .storeDb('graph')
          .select({ id: graphNodes.id })
          .from(graphNodes)
          .where(after === null ? eq(graphNodes.kind, 'document') : and(eq(graphNodes.kind, 'document'), gt(graphNodes.id, after)))
          .orderBy(asc(graphNodes.id))
          .limit(limit);
        return pageOf(rows.map((r) => r.id), limit);
      },
    },
    {
      store: 'graph',
      table: 'graph_edges',
      // Edges of documents whose node exists were counted with the node; only node-less edges are new here.
      async page(after, limit) {
        const db = ctx.storeDb('graph');
        const rows = await db
          .selectDistinct({ id: graphEdges.documentId })
          .from(graphEdges)
          .where(after === null ? undefined : gt(graphEdges.documentId, after))
          .orderBy(asc(graphEdges.documentId))
          .limit(limit);
        const ids = rows.map((r) => r.id);
        if (ids.length === 0) return pageOf(ids, limit);
        const withNode = await db.select({ id: graphNodes.id }).from(graphNodes).where(and(eq(graphNodes.kind, 'document'), inArray(graphNodes.id, ids)));
        const skip = new Set(withNode.map((r) => r.id));
        return pageOf(ids, limit, ids.filter((id) => !skip.has(id)));
      },
    },
    {
      store: 'security',
      table: 'security_records',
      async page(after, limit) {
        const rows = await ctx
          .storeDb('security')
          .select({ id: securityRecords.documentId })
          .from(securityRecords)
          .where(after === null ? undefined : gt(securityRecords.documentId, after))
          .orderBy(asc(securityRecords.documentId))
          .limit(limit);
        return pageOf(rows.map((r) => r.id), limit);
      },
    },
  ];
}
