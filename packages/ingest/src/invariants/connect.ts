// Opens the checker's read-only connections from the same configuration every app uses.
import type { Sql } from 'postgres';
import { connectPostgres } from '../postgres-client.ts';
import { createChunkStore, createS3Client } from '@ingest/storage';
import type { IngestConfig } from '../config.ts';
import { keyProviderFromConfig } from '../at-rest-encoding.ts';
import type { InvariantDeps } from './invariant-deps.ts';
import { WIKI_SAGA, wikiStoreRegistry } from '@ingest/wiki';
import { DELETE_SAGA } from '../delete-saga.ts';
import { INGEST_SAGA } from '../ingest-saga.ts';
import { ingestStoreRegistry } from '../leftover-stores.ts';
import { wikiClientsFromConfig } from '../wiki-clients.ts';
import type { RowStore } from './violation.ts';

/** The checker's collaborators plus close(). */
export interface InvariantConnections extends InvariantDeps {
  close(): Promise<void>;
}

/** Connects to DATABASE_URL, each store's own database when configured, and the bucket. Migrates nothing. */
export function connectInvariantDeps(config: IngestConfig): InvariantConnections {
  const clients = new Map<string, Sql>();
  const client = (url: string): Sql => {
    let c = clients.get(url);
    if (!c) {
      c = connectPostgres(config, url, 4);
      clients.set(url, c);
    }
    return c;
  };
  const sql = client(config.DATABASE_URL);
  const urls: Record<RowStore, string | undefined> = {
    relational: config.RELATIONAL_DATABASE_URL,
    vector: config.VECTOR_DATABASE_URL,
    graph: config.GRAPH_DATABASE_URL,
    security: config.SECURITY_DATABASE_URL,
  };
  const storeSql: Partial<Record<RowStore, Sql>> = {};
  for (const [store, url] of Object.entries(urls) as [RowStore, string | undefined][]) if (url) storeSql[store] = client(url);
  const s3 = createS3Client({
    ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT } : {}),
    region: config.S3_REGION,
    accessKeyId: config.S3_ACCESS_KEY_ID,
    secretAccessKey: config.S3_SECRET_ACCESS_KEY,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
  });
  const chunkStore = createChunkStore({ client: s3, bucket: config.S3_BUCKET });
  const keyProvider = keyProviderFromConfig(config);
  // A fleet that runs the wiki saga: its leftovers are checked through its own store registry.
  const wiki = wikiClientsFromConfig(config);
  const ingestRegistry = wiki ? ingestStoreRegistry({ sql, chunkStore, storeSql }) : undefined;
  return {
    sql,
    storeSql,
    chunkStore,
    ...(wiki && ingestRegistry ? { leftoverStores: { [INGEST_SAGA]: ingestRegistry, [DELETE_SAGA]: ingestRegistry, [WIKI_SAGA]: wikiStoreRegistry(wiki) } } : {}),
    ...(keyProvider ? { keyProvider } : {}),
    async close() {
      chunkStore.close();
      s3.destroy();
      for (const c of clients.values()) await c.end({ timeout: 5 });
    },
  };
}
