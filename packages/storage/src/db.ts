// The typed drizzle handle every store builds over the `postgres` connection it is given.
import { type PostgresJsDatabase, drizzle } from 'drizzle-orm/postgres-js';
import type { Sql } from 'postgres';
import * as schema from './schema/index.ts';

/** drizzle over postgres-js, knowing this package's tables; `$client` is the pool under it (for hot-rows.ts). */
export type StorageDb = PostgresJsDatabase<typeof schema> & { $client: Sql };

/** Wraps a postgres connection pool in drizzle. */
export function storageDb(sql: Sql): StorageDb {
  return drizzle({ client: sql, schema });
}
