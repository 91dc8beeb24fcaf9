// Applies the engine's migrations (npm run migrate, test set-ups); long-running processes only check the version.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sql } from 'postgres';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { withMigrationLock } from './migration-lock.ts';
import { assertSchemaVersion, type MigrationSet, type SchemaVersion } from './schema-version.ts';

// From the sources: the package's drizzle/ folder. From an app bundle (npm run build): dist/migrations/saga-core.
const MIGRATIONS =
  [path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../drizzle'), fileURLToPath(new URL('./migrations/saga-core', import.meta.url))].find((dir) =>
    existsSync(path.join(dir, 'meta/_journal.json')),
  ) ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../drizzle');
const SET: MigrationSet = { component: 'saga-core', folder: MIGRATIONS, table: '__saga_core_migrations' };

/** Creates or upgrades the engine's tables (saga_*, failed_cleanups) in the database of `sql` (a pool of at least 2). */
export async function migrateSagaCore(sql: Sql): Promise<void> {
  await withMigrationLock(sql, () => migrate(drizzle(sql), { migrationsFolder: SET.folder, migrationsTable: SET.table }));
}

/** Throws SchemaVersionError (code SCHEMA_OUTDATED) when the engine's tables are behind this build. */
export function checkSagaCoreSchema(sql: Sql, where = ''): Promise<SchemaVersion> {
  return assertSchemaVersion(sql, SET, where);
}
