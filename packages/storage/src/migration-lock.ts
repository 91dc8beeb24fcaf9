// Serialises migrators across processes with a lock that works directly and behind PgBouncer in transaction pooling.
import type { Sql } from 'postgres';

const RETRY_MS = 100;

/**
 * Runs `migrate` (on other connections of `sql`'s pool) while a transaction of its own holds advisory lock `key`.
 * A transaction-level lock, because behind PgBouncer a session lock stays on whichever server connection took it and
 * its unlock may reach another; tried, not awaited, because a waiter blocked inside pg_advisory_xact_lock would pin a
 * server connection, and enough waiters would leave the holder none to migrate with.
 */
export async function withMigrationLock(sql: Sql, key: number, migrate: () => Promise<void>): Promise<void> {
  for (;;) {
    let ran = false;
    await sql.begin(async (tx) => {
      const [row] = await tx<{ locked: boolean }[]>`select pg_try_advisory_xact_lock(${key}) as locked`;
      if (!row?.locked) return;
      ran = true;
      await migrate();
    });
    if (ran) return;
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS + Math.floor(Math.random() * RETRY_MS)));
  }
}
