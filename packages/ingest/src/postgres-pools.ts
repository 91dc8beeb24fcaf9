// The PostgreSQL pools of one process: DATABASE_URL and each store's URL (default DATABASE_URL), one pool per
// distinct URL, opened lazily.
import type { Sql } from 'postgres';
import type { IngestConfig } from './config.ts';
import { connectPostgres } from './postgres-client.ts';

/** Pools by role; close() ends every pool opened. */
export interface PostgresPools {
  /** DATABASE_URL: the engine's tables, upload manifests, heartbeats. */
  sql: Sql;
  /** The pool of any URL (opened on first use, shared by equal URLs). */
  client(url: string): Sql;
  /** The four downstream stores' pools. */
  storeSql: { relational: Sql; vector: Sql; graph: Sql; security: Sql };
  close(timeoutSeconds?: number): Promise<void>;
}

/** Opens (lazily) the pools a runtime needs, `max` connections each. */
export function openPostgresPools(config: IngestConfig, max = 20): PostgresPools {
  const clients = new Map<string, Sql>();
  const client = (url: string): Sql => {
    let c = clients.get(url);
    if (!c) {
      c = connectPostgres(config, url, max);
      clients.set(url, c);
    }
    return c;
  };
  return {
    sql: client(config.DATABASE_URL),
    client,
    storeSql: {
      relational: client(config.RELATIONAL_DATABASE_URL ?? config.DATABASE_URL),
      vector: client(config.VECTOR_DATABASE_URL ?? config.DATABASE_URL),
      graph: client(config.GRAPH_DATABASE_URL ?? config.DATABASE_URL),
      security: client(config.SECURITY_DATABASE_URL ?? config.DATABASE_URL),
    },
    async close(timeoutSeconds = 5) {
      await Promise.all([...clients.values()].map((c) => c.end({ timeout: timeoutSeconds })));
    },
  };
}
