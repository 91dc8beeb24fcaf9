// The four downstream stores the saga writes to, each on its own connection (default DATABASE_URL).
import { drizzle } from 'drizzle-orm/postgres-js';
import type { Sql } from 'postgres';
import {
  createGraphStore,
  createHttpEmbedder,
  createLocalEmbedder,
  createRelationalStore,
  createSecurityStore,
  createVectorStore,
  storageSchema,
  type Embedder,
  type GraphStore,
  type RelationalStore,
  type SecurityStore,
  type VectorStore,
} from '@ingest/storage';
import type { IngestConfig } from './config.ts';

/** The stores, by role. */
export interface DownstreamStores {
  relational: RelationalStore;
  vector: VectorStore;
  graph: GraphStore;
  security: SecurityStore;
}

/** Typed queries over the storage tables (the janitor's orphan scan, the checker). */
export type StorageDatabase = ReturnType<typeof storageDatabase>;

/** Drizzle over the storage package's tables. */
export function storageDatabase(sql: Sql) {
  return drizzle(sql, { schema: storageSchema });
}

/** Builds the stores over their connections; the embedder (unless given) is HTTP when EMBEDDINGS_URL is set, else local. */
export function createDownstreamStores(config: IngestConfig, sql: { relational: Sql; vector: Sql; graph: Sql; security: Sql }, given?: Embedder): DownstreamStores {
  const embedder = given ?? (config.EMBEDDINGS_URL
    ? createHttpEmbedder({ url: config.EMBEDDINGS_URL, model: config.EMBEDDINGS_MODEL, ...(config.EMBEDDINGS_API_KEY ? { apiKey: config.EMBEDDINGS_API_KEY } : {}) })
    : createLocalEmbedder({ dimensions: config.EMBEDDING_DIMENSIONS }));
  return {
    relational: createRelationalStore(sql.relational),
    vector: createVectorStore(sql.vector, embedder),
    graph: createGraphStore(sql.graph),
    security: createSecurityStore(sql.security),
  };
}
