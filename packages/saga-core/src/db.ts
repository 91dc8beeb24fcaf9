// The drizzle handle over the engine's tables, and the row types the engine passes around.
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import type { Sql } from 'postgres';
import * as schema from './schema.ts';

/** Drizzle database over the engine's schema. */
export type Db = PostgresJsDatabase<typeof schema>;
/** A transaction on it. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
/** Either. */
export type DbOrTx = Db | Tx;

export type InstanceRow = typeof schema.sagaInstances.$inferSelect;
export type StepRow = typeof schema.sagaSteps.$inferSelect;
export type OutboxRow = typeof schema.sagaOutbox.$inferSelect;

/** Wraps a postgres-js client. */
export function createDb(sql: Sql): Db {
  return drizzle(sql, { schema });
}

/** True for a unique violation on the named index. */
export function isUniqueViolation(err: unknown, constraint: string): boolean {
  for (let e: unknown = err, d = 0; e && typeof e === 'object' && d < 4; e = (e as { cause?: unknown }).cause, d++) {
    const x = e as { code?: unknown; constraint_name?: unknown };
    if (x.code === '23505' && x.constraint_name === constraint) return true;
  }
  return false;
}
