// Every unresolved failed_cleanups row must name something that still exists, in a store a cleaner can act on.
import { and, asc, count, eq, gt, isNull } from 'drizzle-orm';
import { sagaSchema } from '@ingest/saga-core';
import { storageSchema } from '@ingest/storage';
import type { CheckContext } from './check-context.ts';
import { countDocumentRows, isUuid } from './document-rows.ts';

const { failedCleanups } = sagaSchema;
const { uploadOperations, securityAudit } = storageSchema;

/** Stores the ingestion saga records leftovers under; `lock` cannot be checked without Redis and is trusted. */
export const KNOWN_LEFTOVER_STORES = ['s3-chunk', 's3-prefix', 'relational', 'vector', 'graph', 'security', 'security-audit', 'upload-operation', 'lock'] as const;
const known: ReadonlySet<string> = new Set(KNOWN_LEFTOVER_STORES);

/** Reports leftover_already_gone and unknown_leftover_store, page by page. */
export async function scanLeftoverEntries(ctx: CheckContext): Promise<void> {
  let after = 0;
  // Bounded: keyset pages by id over unresolved rows; ends on a short page.
  for (;;) {
    ctx.checkAborted();
    const page = await ctx.sagaDb
      .select()
      .from(failedCleanups)
      .where(and(isNull(failedCleanups.resolvedAt), gt(failedCleanups.id, after)))
      .orderBy(asc(failedCleanups.id))
      .limit(ctx.options.pageSize);
    for (const row of page) {
      ctx.counts.leftoversChecked += 1;
      const ids = { leftoverId: row.id, sagaId: row.sagaId, store: row.store, key: row.key };
      if (!known.has(row.store)) {
        ctx.report({ kind: 'unknown_leftover_store', ...ids });
        continue;
      }
      if (await stillThere(ctx, row.store, row.key)) continue;
      // The janitor may have resolved it meanwhile: only an entry still unresolved after the look is wrong.
      const [again] = await ctx.sagaDb.select({ resolvedAt: failedCleanups.resolvedAt }).from(failedCleanups).where(eq(failedCleanups.id, row.id));
      if (again && again.resolvedAt === null) ctx.report({ kind: 'leftover_already_gone', ...ids });
    }
    const last = page[page.length - 1];
    if (!last || page.length < ctx.options.pageSize) return;
    after = last.id;
  }
}

async function stillThere(ctx: CheckContext, store: string, key: string): Promise<boolean> {
  switch (store) {
    case 's3-chunk':
      return ctx.chunkStore.exists(key, ctx.options.signal ? { signal: ctx.options.signal } : {});
    case 's3-prefix': {
      // Still there while any object is listed under the prefix.
      for await (const _ of ctx.chunkStore.list(key, ctx.options.signal ? { signal: ctx.options.signal } : {})) return true;
      return false;
    }
    case 'relational':
    case 'vector':
    case 'graph':
    case 'security':
      return (await countDocumentRows(ctx, store, key)) > 0;
    case 'upload-operation': {
      const [op] = await ctx.uploadDb.select({ status: uploadOperations.status }).from(uploadOperations).where(eq(uploadOperations.id, key));
      return op?.status === 'active';
    }
    case 'security-audit': {
      // The undo of `finalize` appends a 'failed' entry; the leftover is that entry still missing.
      if (!isUuid(key)) return false;
      const rows = await ctx
        .storeDb('security')
        .select({ n: count() })
        .from(securityAudit)
        .where(and(eq(securityAudit.documentId, key), eq(securityAudit.action, 'failed')));
      return Number(rows[0]?.n ?? 0) === 0;
    }
    default:
      return true;
  }
}
