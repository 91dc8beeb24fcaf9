// The vector downstream store: a document's text, streamed into ~N-character chunks, embedded and inserted in batches.
import { and, count, desc, eq, sql as raw } from 'drizzle-orm';
import type { Sql } from 'postgres';
import { StorageError } from './errors.ts';
import { storageDb } from './db.ts';
import { type DatabaseStoreOptions, createDatabaseGuard } from './database-guard.ts';
import { assertDocumentId } from './document-id.ts';
import type { Embedder } from './embedder.ts';
import { type TextSource, chunkText } from './text-chunker.ts';
import { intOption, requiredOption } from './options.ts';
import { vectorChunks } from './schema/vector-chunks.ts';

/** Options of createVectorStore. */
export interface VectorStoreOptions extends DatabaseStoreOptions {
  /** Target characters per text chunk (split on whitespace near the boundary when possible). Default 1000. */
  chunkChars?: number;
  /** Chunks embedded and inserted per batch. Default 32. */
  batchSize?: number;
}

/** What insertText stored. */
export interface VectorInsertResult {
  documentId: string;
  chunks: number;
  characters: number;
  model: string;
}

/** A stored chunk with its similarity to a query (dot product of unit vectors, i.e. cosine). */
export interface SimilarChunk {
  documentId: string;
  chunkIndex: number;
  content: string;
  score: number;
}

/** The vector store's operations. */
export interface VectorStore {
  /** Streams the text in, chunk by chunk, batch by batch; a replay overwrites the same rows and drops any stale tail. */
  insertText(documentId: string, text: TextSource, options?: { signal?: AbortSignal }): Promise<VectorInsertResult>;
  /** Deletes every chunk of the document; idempotent. */
  remove(documentId: string): Promise<{ removed: number }>;
  /** Number of chunks stored for the document. */
  count(documentId: string): Promise<number>;
  /** The chunks most similar to `query` (embedded with this store's embedder); a full scan, for modest collections. */
  similar(query: string, options?: { limit?: number; documentId?: string }): Promise<SimilarChunk[]>;
}

/** Creates the vector store over its own connection pool and an embedder. */
export function createVectorStore(sql: Sql, embedder: Embedder, options: VectorStoreOptions = {}): VectorStore {
  requiredOption('embedder', embedder);
  const chunkChars = intOption('chunkChars', options.chunkChars, 1000, 16, 1_000_000);
  const batchSize = intOption('batchSize', options.batchSize, 32, 1, 10_000);
  const db = storageDb(sql);
  const guard = createDatabaseGuard('vector', options);

  async function embedBatch(texts: string[], signal: AbortSignal | undefined): Promise<number[][]> {
    const vectors = await embedder.embed(texts, signal ? { signal } : {});
    if (vectors.length !== texts.length) throw new StorageError('EMBEDDING_FAILED', `embedder ${embedder.model} returned ${vectors.length} vectors for ${texts.length} texts`);
    return vectors;
  }

  return {
    async insertText(documentId, text, callOptions = {}) {
      assertDocumentId(documentId);
      const signal = callOptions.signal;
      let chunks = 0;
      let characters = 0;
      let batch: string[] = [];
      // An earlier, longer run of the same document may have left chunks past the new end: the last flush trims them in
      // the same statement (a text of one batch, the common case, costs one round trip). postgres.js' tagged template,
      // not drizzle's builder: a small document's vector_insert is this one statement (see hot-rows.ts).
      const trim = () => sql`delete from vector_chunks where document_id = ${documentId} and chunk_index >= ${chunks}`;
      const flush = async (last: boolean): Promise<boolean> => {
        if (!batch.length) return false;
        const vectors = await embedBatch(batch, signal);
        const first = chunks - batch.length;
        const rows = batch.map((content, i) => ({ document_id: documentId, chunk_index: first + i, content, embedding: vectors[i]!, model: embedder.model }));
        const insert = sql`
          insert into vector_chunks ${sql(rows, 'document_id', 'chunk_index', 'content', 'embedding', 'model')}
          on conflict (document_id, chunk_index) do update set content = excluded.content, embedding = excluded.embedding, model = excluded.model`;
        await guard.run('insert vector chunks', () => (last ? sql`with trimmed as (${trim()}) ${insert}` : insert), documentId);
        batch = [];
        return last;
      };
      for await (const chunk of chunkText(text, chunkChars)) {
        if (signal?.aborted) throw new StorageError('CANCELLED', `vector insert of ${documentId} aborted`, { documentId, cause: signal.reason });
        batch.push(chunk);
        chunks += 1;
        characters += chunk.length;
        if (batch.length >= batchSize) await flush(false);
      }
      if (!(await flush(true))) await guard.run('trim vector chunks', trim, documentId);
      return { documentId, chunks, characters, model: embedder.model };
    },

    async remove(documentId) {
      assertDocumentId(documentId);
      const rows = await guard.run('remove vector chunks', () => db.delete(vectorChunks).where(eq(vectorChunks.documentId, documentId)).returning({ i: vectorChunks.chunkIndex }), documentId);
      return { removed: rows.length };
    },

    async count(documentId) {
      assertDocumentId(documentId);
      const [row] = await guard.run('count vector chunks', () => db.select({ n: count() }).from(vectorChunks).where(eq(vectorChunks.documentId, documentId)), documentId);
      return row?.n ?? 0;
    },

    async similar(query, similarOptions = {}) {
      const limit = intOption('limit', similarOptions.limit, 5, 1, 1000);
      if (similarOptions.documentId !== undefined) assertDocumentId(similarOptions.documentId);
      const [vector] = await embedBatch([query], undefined);
      const score = raw<number>`(select coalesce(sum(a * b), 0) from unnest(${vectorChunks.embedding}, ${raw.param(vector)}::real[]) as t(a, b))`.mapWith(Number);
      const where = similarOptions.documentId === undefined
        ? eq(vectorChunks.model, embedder.model)
        : and(eq(vectorChunks.model, embedder.model), eq(vectorChunks.documentId, similarOptions.documentId));
      return guard.run('similar vector chunks', () =>
        db
          .select({ documentId: vectorChunks.documentId, chunkIndex: vectorChunks.chunkIndex, content: vectorChunks.content, score })
          .from(vectorChunks)
          .where(where)
          .orderBy(desc(score))
          .limit(limit),
      );
    },
  };
}
