// What a document left behind in every store: the test's definition of "nothing left".
import type { Sql } from 'postgres';
import type { IngestHarness } from './harness.ts';

/** Counts of rows and objects that still belong to a document or its upload operation. */
export async function leftoversOf(h: IngestHarness, sql: Sql, documentId: string, operationId: string): Promise<Record<string, number>> {
  const count = async (q: Promise<{ n: number }[]>) => (await q)[0]?.n ?? 0;
  return {
    documents: await count(sql`select count(*)::int as n from documents where id = ${documentId}`),
    vectorChunks: await count(sql`select count(*)::int as n from vector_chunks where document_id = ${documentId}`),
    graphNodes: await count(sql`select count(*)::int as n from graph_nodes where id = ${documentId}`),
    graphEdges: await count(sql`select count(*)::int as n from graph_edges where document_id = ${documentId}`),
    securityRecords: await count(sql`select count(*)::int as n from security_records where document_id = ${documentId}`),
    manifestRows: await count(sql`select count(*)::int as n from upload_chunks where operation_id = ${operationId}`),
    s3Objects: (await h.storedKeys()).filter((k) => k.startsWith(`chunks/${operationId}/`)).length,
  };
}

/** The shape of "nothing left". */
export const NOTHING_LEFT = { documents: 0, vectorChunks: 0, graphNodes: 0, graphEdges: 0, securityRecords: 0, manifestRows: 0, s3Objects: 0 };
