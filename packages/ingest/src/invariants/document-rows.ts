// How many rows each downstream store holds for one document, and the pages of document ids each store holds.
import { and, asc, eq, gt, inArray } from 'drizzle-orm';
import { storageSchema } from '@ingest/storage';
import type { CheckContext } from './check-context.ts';
import type { RowStore } from './violation.ts';
import { countRowsIn } from '../store-rows.ts';

const { documents, vectorChunks, graphNodes, graphEdges, securityRecords } = storageSchema;

/** Rows of `documentId` in `store` (graph: the document node plus the edges it owns). */
export async function countDocumentRows(ctx: CheckContext, store: RowStore, documentId: string): Promise<number> {
  return countRowsIn(ctx.storeDb(store), store, documentId);
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
