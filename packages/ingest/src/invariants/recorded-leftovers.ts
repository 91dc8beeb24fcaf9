// Which of some keys are named by an unresolved failed_cleanups row: a recorded leftover is accounted for.
import { and, eq, inArray, isNull } from 'drizzle-orm';
import { sagaSchema } from '@ingest/saga-core';
import type { CheckContext } from './check-context.ts';

const { failedCleanups } = sagaSchema;

/** The subset of `keys` recorded as unresolved leftovers of `store` (by any saga). */
export async function recordedKeys(ctx: CheckContext, store: string, keys: readonly string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const rows = await ctx.sagaDb
    .select({ key: failedCleanups.key })
    .from(failedCleanups)
    .where(and(eq(failedCleanups.store, store), isNull(failedCleanups.resolvedAt), inArray(failedCleanups.key, [...keys])));
  return new Set(rows.map((r) => r.key));
}
