// For every completed saga: its document is in every store (row-complete), and the bytes the bucket holds are the
// ones its manifest and document row claim (HEAD sizes and checksums; with `deep`, every chunk read back and hashed).
import { and, asc, count, eq, gt, inArray } from 'drizzle-orm';
import { sagaSchema } from '@ingest/saga-core';
import { type ChunkCipher, chunkRefOf, forEachBounded, isRetryableStorageError, openOperationCipher, readChunk, storageErrorCode, storageSchema } from '@ingest/storage';
import type { CheckContext } from './check-context.ts';
import { isUuid } from '../uuid.ts';
import { INGEST_SAGA } from '../ingest-saga.ts';
import { retiredVersions } from './removed-documents.ts';

const { sagaInstances, sagaSteps } = sagaSchema;
const { documents, vectorChunks, graphNodes, graphEdges, securityRecords, uploadOperations, uploadChunks } = storageSchema;

/** What a completed saga says it committed. */
interface Commitment {
  sagaId: string;
  documentId: string;
  operationId: string;
  verified: { chunkCount?: number; totalBytes?: number; sha256?: string };
  vectorChunks: number | undefined;
  graphRelations: number | undefined;
}

/** Reports incomplete_document and corrupt_document for completed sagas, page by page. */
export async function scanCommittedDocuments(ctx: CheckContext): Promise<void> {
  let after: string | null = null;
  // Bounded: keyset pages over completed sagas; the loop ends on a short page.
  for (;;) {
    ctx.checkAborted();
    const page = await ctx.sagaDb
      .select({ id: sagaInstances.id, input: sagaInstances.input })
      .from(sagaInstances)
      // Only ingestion sagas commit documents; other sagas of the fleet (the wiki saga) commit elsewhere.
      .where(and(eq(sagaInstances.status, 'completed'), eq(sagaInstances.name, INGEST_SAGA), ...(after === null ? [] : [gt(sagaInstances.id, after)])))
      .orderBy(asc(sagaInstances.id))
      .limit(ctx.options.pageSize);
    // A version being removed or removed (deleted, or superseded by a replacement) is no longer committed data:
    // scanRemovedDocuments holds it to the opposite promise.
    const retired = await retiredVersions(ctx, page.map((s) => documentIdOf(s.input)).filter(isUuid));
    for (const saga of page) {
      if (retired.has(documentIdOf(saga.input))) continue;
      await checkCommitment(ctx, await commitmentOf(ctx, saga.id, saga.input));
    }
    const last: string | undefined = page[page.length - 1]?.id;
    if (last === undefined || page.length < ctx.options.pageSize) return;
    after = last;
  }
}

function documentIdOf(input: unknown): string {
  const id = (input ?? {}) as { documentId?: unknown };
  return typeof id.documentId === 'string' ? id.documentId : '';
}

async function commitmentOf(ctx: CheckContext, sagaId: string, input: unknown): Promise<Commitment> {
  const i = (input ?? {}) as { documentId?: unknown; operationId?: unknown };
  const steps = await ctx.sagaDb
    .select({ name: sagaSteps.name, output: sagaSteps.output })
    .from(sagaSteps)
    .where(and(eq(sagaSteps.sagaId, sagaId), inArray(sagaSteps.name, ['verify_integrity', 'vector_insert', 'graph_insert'])));
  const out = (name: string): Record<string, unknown> => (steps.find((s) => s.name === name)?.output ?? {}) as Record<string, unknown>;
  const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
  const verify = out('verify_integrity');
  return {
    sagaId,
    documentId: typeof i.documentId === 'string' ? i.documentId : '',
    operationId: typeof i.operationId === 'string' ? i.operationId : '',
    verified: { chunkCount: num(verify.chunkCount), totalBytes: num(verify.totalBytes), sha256: typeof verify.sha256 === 'string' ? verify.sha256 : undefined },
    vectorChunks: num(out('vector_insert').chunks),
    graphRelations: num(out('graph_insert').relations),
  };
}

async function checkCommitment(ctx: CheckContext, c: Commitment): Promise<void> {
  ctx.counts.documentsVerified += 1;
  const incomplete = (store: 'relational' | 'vector' | 'graph' | 'security', problem: string) =>
    ctx.report({ kind: 'incomplete_document', sagaId: c.sagaId, documentId: c.documentId, store, problem });
  if (!isUuid(c.documentId)) {
    incomplete('relational', `saga input names no valid documentId (${JSON.stringify(c.documentId)})`);
    return;
  }
  const n = async (q: Promise<{ n: number }[]>): Promise<number> => Number((await q)[0]?.n ?? 0);

  const security = await ctx.storeDb('security').select().from(securityRecords).where(eq(securityRecords.documentId, c.documentId));
  if (!security[0]) incomplete('security', 'no security record');
  else if (c.verified.sha256 && security[0].contentSha256 !== c.verified.sha256) {
    incomplete('security', `security record hash ${security[0].contentSha256} differs from the verified ${c.verified.sha256}`);
  }
  if (c.vectorChunks !== undefined) {
    const have = await n(ctx.storeDb('vector').select({ n: count() }).from(vectorChunks).where(eq(vectorChunks.documentId, c.documentId)));
    if (have !== c.vectorChunks) incomplete('vector', `${have} vector chunks, the saga inserted ${c.vectorChunks}`);
  }
  const graph = ctx.storeDb('graph');
  const nodes = await n(graph.select({ n: count() }).from(graphNodes).where(and(eq(graphNodes.id, c.documentId), eq(graphNodes.kind, 'document'))));
  if (nodes !== 1) incomplete('graph', `${nodes} document nodes, expected 1`);
  if (c.graphRelations !== undefined) {
    const edges = await n(graph.select({ n: count() }).from(graphEdges).where(eq(graphEdges.documentId, c.documentId)));
    if (edges !== c.graphRelations) incomplete('graph', `${edges} edges, the saga inserted ${c.graphRelations}`);
  }

  const [doc] = await ctx.storeDb('relational').select().from(documents).where(eq(documents.id, c.documentId));
  if (!doc) {
    incomplete('relational', 'no documents row');
    return;
  }
  const corrupt = (problem: string, key: string | null = null) =>
    ctx.report({ kind: 'corrupt_document', sagaId: c.sagaId, documentId: c.documentId, operationId: c.operationId, key, problem });
  if (doc.operationId !== c.operationId) corrupt(`documents row names operation ${String(doc.operationId)}, the saga uploaded ${c.operationId}`);
  if (c.verified.sha256 && doc.sha256 !== c.verified.sha256) corrupt(`documents row sha256 ${doc.sha256}, verified ${c.verified.sha256}`);
  if (c.verified.totalBytes !== undefined && doc.size !== c.verified.totalBytes) corrupt(`documents row size ${doc.size}, verified ${c.verified.totalBytes}`);
  await checkStoredBytes(ctx, c, doc, corrupt);
}

async function checkStoredBytes(
  ctx: CheckContext,
  c: Commitment,
  doc: { size: number; sha256: string; chunkCount: number },
  corrupt: (problem: string, key?: string | null) => void,
): Promise<void> {
  const [op] = await ctx.uploadDb.select().from(uploadOperations).where(eq(uploadOperations.id, c.operationId));
  if (!op) {
    corrupt(`upload operation ${c.operationId} does not exist`);
    return;
  }
  if (op.status !== 'completed') corrupt(`upload operation is ${op.status}, not completed`);
  if (op.sha256 !== doc.sha256) corrupt(`upload operation sha256 ${String(op.sha256)}, document ${doc.sha256}`);
  if (op.sourceSize !== doc.size) corrupt(`upload operation source size ${op.sourceSize}, document ${doc.size}`);

  let expectedIndex = 0;
  let totalBytes = 0;
  const callOptions = ctx.options.signal ? { signal: ctx.options.signal } : {};
  // Deep reads decode encrypted chunks with the document's data key; a key that no longer unwraps is itself a finding.
  let cipher: ChunkCipher | undefined;
  if (ctx.options.deep) {
    try {
      cipher = await openOperationCipher(op, ctx.keyProvider);
    } catch (err) {
      corrupt(`data key does not unwrap: ${storageErrorCode(err) ?? 'ERROR'} ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
  }
  // The manifest streams by in index order; HEADs (and reads, when deep) run a bounded number at a time.
  await forEachBounded(manifestRows(ctx, c.operationId), ctx.options.parallelism, async (row) => {
    if (row.chunkIndex !== expectedIndex) corrupt(`manifest jumps from chunk ${expectedIndex - 1} to ${row.chunkIndex}`, row.key);
    expectedIndex = row.chunkIndex + 1;
    totalBytes += row.size;
    ctx.counts.chunksVerified += 1;
    // The bucket holds the stored (possibly compressed and encrypted) bytes; null stored columns mean "as the source".
    const want = { size: row.storedSize ?? row.size, sha256: row.storedSha256 ?? row.sha256, md5: row.storedMd5 ?? row.md5 };
    const stored = await ctx.chunkStore.head(row.key, callOptions);
    if (!stored) return corrupt(`chunk ${row.chunkIndex} is missing from the bucket`, row.key);
    if (stored.size !== want.size) return corrupt(`chunk ${row.chunkIndex}: bucket holds ${stored.size} bytes, manifest says ${want.size}`, row.key);
    if (stored.checksum) {
      const expected = stored.checksum.algorithm === 'sha256' ? want.sha256 : want.md5;
      if (stored.checksum.hex !== expected) return corrupt(`chunk ${row.chunkIndex}: bucket reports ${stored.checksum.algorithm} ${stored.checksum.hex}, manifest ${expected}`, row.key);
    }
    if (ctx.options.deep && (row.codec === 'zstd' || row.nonce !== null)) {
      // Deep on an encoded chunk: decrypt, decompress and check both hashes, exactly as read-back does.
      try {
        await readChunk(ctx.chunkStore, chunkRefOf(row), cipher, callOptions);
      } catch (err) {
        const code = storageErrorCode(err);
        if (!code || isRetryableStorageError(err)) throw err;
        corrupt(`chunk ${row.chunkIndex}: ${code} ${err instanceof Error ? err.message : String(err)}`, row.key);
      }
    } else if (ctx.options.deep || !stored.checksum) {
      const read = await ctx.chunkStore.hash(row.key, callOptions);
      if (read.size !== want.size || read.sha256 !== want.sha256) {
        corrupt(`chunk ${row.chunkIndex}: read back ${read.size} bytes sha256 ${read.sha256}, manifest ${want.size} bytes sha256 ${want.sha256}`, row.key);
      }
    }
  });
  if (expectedIndex !== doc.chunkCount) corrupt(`manifest ends after ${expectedIndex} chunks, the document has ${doc.chunkCount}`);
  if (totalBytes !== doc.size) corrupt(`manifest totals ${totalBytes} bytes, the document has ${doc.size}`);
}

async function* manifestRows(ctx: CheckContext, operationId: string) {
  let after = -1;
  // Bounded: keyset pages by chunk index; ends on a short page.
  for (;;) {
    const page = await ctx.uploadDb
      .select()
      .from(uploadChunks)
      .where(and(eq(uploadChunks.operationId, operationId), gt(uploadChunks.chunkIndex, after)))
      .orderBy(asc(uploadChunks.chunkIndex))
      .limit(ctx.options.pageSize);
    yield* page;
    const last = page[page.length - 1];
    if (!last || page.length < ctx.options.pageSize) return;
    after = last.chunkIndex;
  }
}
