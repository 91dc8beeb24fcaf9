// Serialises migrators across processes with a lock that works directly and behind PgBouncer in transaction pooling.
import type { Sql } from 'postgres';

const RETRY_MS = 100;
// One lock for every package's migrations, not one each: they share drizzle's `drizzle` schema, and two
// `CREATE SCHEMA IF NOT EXISTS` at once make one of them fail with a unique violation.
const MIGRATION_LOCK_KEY = 7_310_001;

/**
 * Runs `migrate` (on other connections of `sql`'s pool) while a transaction of its own holds the migration lock.
 * A transaction-level lock, because behind PgBouncer a session lock stays on whichever server connection took it and
 * its unlock may reach another; tried, not awaited, because a waiter blocked inside pg_advisory_xact_lock would pin a
 * server connection, and enough waiters would leave the holder none to migrate with.
 */
export async function withMigrationLock(sql: Sql, migrate: () => Promise<void>): Promise<void> {
  for (;;) {
    let ran = false;
    await sql.begin(async (tx) => {
      const [row] = await tx<{ locked: boolean }[]>`select pg_try_advisory_xact_lock(${MIGRATION_LOCK_KEY}) as locked`;
      if (!row?.locked) return;
      ran = true;
      await migrate();
    });
    if (ran) return;
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS + Math.floor(Math.random() * RETRY_MS)));
  }
}
