// Applies the engine's migrations at start; safe when several processes start at once.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sql } from 'postgres';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';

// From the sources: the package's drizzle/ folder. From an app bundle (npm run build): dist/migrations/saga-core.
const MIGRATIONS =
  [path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../drizzle'), fileURLToPath(new URL('./migrations/saga-core', import.meta.url))].find((dir) =>
    existsSync(path.join(dir, 'meta/_journal.json')),
  ) ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../drizzle');
// Arbitrary but fixed: serialises concurrent migrators of this package.
const LOCK_ID = 7_310_001;

/** Creates or upgrades the engine's tables (saga_*, failed_cleanups) in the database of `sql`. */
export async function migrateSagaCore(sql: Sql): Promise<void> {
  // A session lock on a reserved connection serialises migrators across processes; the migration runs on the pool.
  const conn = await sql.reserve();
  try {
    await conn`select pg_advisory_lock(${LOCK_ID})`;
    await migrate(drizzle(sql), { migrationsFolder: MIGRATIONS, migrationsTable: '__saga_core_migrations' });
  } finally {
    await conn`select pg_advisory_unlock(${LOCK_ID})`.catch(() => undefined);
    conn.release();
  }
}
