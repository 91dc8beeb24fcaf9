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
// Arbitrary but fixed: every process migrating storage tables contends for the same advisory lock.
const LOCK_KEY = 7_301_214_562;
const SET: MigrationSet = { component: 'storage', folder: migrationsFolder, table: STORAGE_MIGRATIONS_TABLE };

function migrateOnce(sql: Sql): Promise<void> {
  return migrate(drizzle({ client: sql }), { migrationsFolder, migrationsTable: STORAGE_MIGRATIONS_TABLE });
}

function isCreateRace(err: unknown): boolean {
  const code = (err as { code?: unknown; cause?: { code?: unknown } } | null)?.code ?? (err as { cause?: { code?: unknown } } | null)?.cause?.code;
  return code === '23505' || code === '42P06' || code === '42P07';
}

/** Creates or upgrades the storage tables; concurrent callers wait on an advisory lock and then find nothing to do. */
export async function migrateStorage(sql: Sql): Promise<void> {
  // The lock's transaction holds one connection while the migrator runs on another from the same pool.
  const max = (sql.options as { max?: number }).max;
  if (max !== undefined && max < 2) throw new InvalidOptionError('sql', 'migrateStorage needs a pool of at least 2 connections');
  await withMigrationLock(sql, LOCK_KEY, () =>
    migrateOnce(sql).catch(async (err: unknown) => {
      // Another package's migrator (the saga engine's) may create the shared `drizzle` schema at the same
      // moment: CREATE SCHEMA IF NOT EXISTS then loses the race with a unique violation. Once is enough.
      if (!isCreateRace(err)) throw err;
      await migrateOnce(sql);
    }),
  );
}

/** Throws SchemaVersionError (code SCHEMA_OUTDATED) when the storage tables of `sql`'s database are behind this build. */
export function checkStorageSchema(sql: Sql, where = ''): Promise<SchemaVersion> {
  return assertSchemaVersion(sql, SET, where);
}
