// Applies this package's SQL migrations (packages/storage/drizzle) to a database, safely from several processes at once,
// and checks from a long-running process that they were applied (npm run migrate applies them).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import type { Sql } from 'postgres';
import { assertSchemaVersion, withMigrationLock, type MigrationSet, type SchemaVersion } from '@ingest/saga-core/schema-tools';
import { InvalidOptionError } from './errors.ts';

/** The table where applied storage migrations are recorded (in drizzle's `drizzle` schema). */
export const STORAGE_MIGRATIONS_TABLE = '__storage_migrations';

// From the sources: the package's drizzle/ folder. From an app bundle (npm run build): dist/migrations/storage.
const migrationsFolder =
  [fileURLToPath(new URL('../drizzle', import.meta.url)), fileURLToPath(new URL('./migrations/storage', import.meta.url))].find((dir) =>
    existsSync(`${dir}/meta/_journal.json`),
  ) ?? fileURLToPath(new URL('../drizzle', import.meta.url));
const SET: MigrationSet = { component: 'storage', folder: migrationsFolder, table: STORAGE_MIGRATIONS_TABLE };

function migrateOnce(sql: Sql): Promise<void> {
  return migrate(drizzle({ client: sql }), { migrationsFolder, migrationsTable: STORAGE_MIGRATIONS_TABLE });
}

/** Creates or upgrades the storage tables; concurrent callers (of this or the engine's migrations) wait on the migration lock and then find nothing to do. */
export async function migrateStorage(sql: Sql): Promise<void> {
  // The lock's transaction holds one connection while the migrator runs on another from the same pool.
  const max = (sql.options as { max?: number }).max;
  if (max !== undefined && max < 2) throw new InvalidOptionError('sql', 'migrateStorage needs a pool of at least 2 connections');
  // The same lock as the engine's migrations: both create drizzle's shared `drizzle` schema.
  await withMigrationLock(sql, () => migrateOnce(sql));
}

/** Throws SchemaVersionError (code SCHEMA_OUTDATED) when the storage tables of `sql`'s database are behind this build. */
export function checkStorageSchema(sql: Sql, where = ''): Promise<SchemaVersion> {
  return assertSchemaVersion(sql, SET, where);
}
