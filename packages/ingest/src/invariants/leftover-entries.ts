// Every unresolved failed_cleanups row must name something that still exists, in a store its saga declares (so the
// janitor can act on it). Both questions go to the saga's store registry, the one the janitor retries through.
import { and, asc, eq, gt, isNull } from 'drizzle-orm';
import { UndeclaredStoreError, resolveStore, sagaSchema, type JsonObject, type LeftoverStore } from '@ingest/saga-core';
import { INGEST_STORE_NAMES } from '../leftover-stores.ts';
import type { CheckContext } from './check-context.ts';

const { failedCleanups, sagaInstances } = sagaSchema;

/** Stores the ingestion saga records leftovers under (its registry's names); `lock` cannot be checked without Redis and is trusted. */
export const KNOWN_LEFTOVER_STORES = INGEST_STORE_NAMES;

/** Reports leftover_already_gone and unknown_leftover_store, page by page. */
export async function scanLeftoverEntries(ctx: CheckContext): Promise<void> {
  let after = 0;
  // Bounded: keyset pages by id over unresolved rows; ends on a short page.
  for (;;) {
    ctx.checkAborted();
    const page = await ctx.sagaDb
      .select({ row: failedCleanups, sagaName: sagaInstances.name })
      .from(failedCleanups)
      .leftJoin(sagaInstances, eq(sagaInstances.id, failedCleanups.sagaId))
      .where(and(isNull(failedCleanups.resolvedAt), gt(failedCleanups.id, after)))
      .orderBy(asc(failedCleanups.id))
      .limit(ctx.options.pageSize);
    for (const { row, sagaName } of page) {
      ctx.counts.leftoversChecked += 1;
      const ids = { leftoverId: row.id, sagaId: row.sagaId, store: row.store, key: row.key };
      const store = declaredStore(ctx, sagaName ?? '?', row.store);
      if (!store) {
        ctx.report({ kind: 'unknown_leftover_store', ...ids });
        continue;
      }
      const details = typeof row.details === 'object' && row.details !== null && !Array.isArray(row.details) ? (row.details as JsonObject) : null;
      const leftover = { sagaId: row.sagaId, step: row.step, store: row.store, key: row.key, details, ...(ctx.options.signal ? { signal: ctx.options.signal } : {}) };
      if (await store.exists(row.key, leftover)) continue;
      // The janitor may have resolved it meanwhile: only an entry still unresolved after the look is wrong.
      const [again] = await ctx.sagaDb.select({ resolvedAt: failedCleanups.resolvedAt }).from(failedCleanups).where(eq(failedCleanups.id, row.id));
      if (again && again.resolvedAt === null) ctx.report({ kind: 'leftover_already_gone', ...ids });
    }
    const last = page[page.length - 1];
    if (!last || page.length < ctx.options.pageSize) return;
    after = last.row.id;
  }
}

// A saga the checker has no registry for cannot have its leftovers retried by this fleet either.
function declaredStore(ctx: CheckContext, sagaName: string, store: string): LeftoverStore | null {
  try {
    return resolveStore(sagaName, ctx.leftoverStores[sagaName], store);
  } catch (err) {
    if (err instanceof UndeclaredStoreError) return null;
    throw err;
  }
}
