// For every removed version (a deleted document's, or one a replacement superseded): nothing of it is left in any
// store or in the bucket, unless a recorded leftover names it (the janitor is finishing it).
import { and, asc, eq, gt, inArray } from 'drizzle-orm';
import { storageSchema } from '@ingest/storage';
import type { CheckContext } from './check-context.ts';
import { countDocumentRows } from './document-rows.ts';
import { recordedKeys } from './recorded-leftovers.ts';
import type { RowStore } from './violation.ts';

const { documentVersions } = storageSchema;
const ROW_STORES: readonly RowStore[] = ['relational', 'vector', 'graph', 'security'];

/** Version ids among `versionIds` that are being removed or removed: not committed data any more. */
export async function retiredVersions(ctx: CheckContext, versionIds: readonly string[]): Promise<Set<string>> {
  if (versionIds.length === 0) return new Set();
  const rows = await ctx
    .storeDb('relational')
    .select({ id: documentVersions.versionId })
    .from(documentVersions)
    .where(and(inArray(documentVersions.versionId, [...versionIds]), inArray(documentVersions.status, ['removing', 'removed'])));
  return new Set(rows.map((r) => r.id));
}

/** Reports removed_document_remains, page by page over removed versions. */
export async function scanRemovedDocuments(ctx: CheckContext): Promise<void> {
  let after: string | null = null;
  // Bounded: keyset pages by version id; ends on a short page.
  for (;;) {
    ctx.checkAborted();
    const page = await ctx
      .storeDb('relational')
      .select({ versionId: documentVersions.versionId, documentId: documentVersions.documentId, operationId: documentVersions.operationId, sagaId: documentVersions.removeSagaId })
      .from(documentVersions)
      .where(and(eq(documentVersions.status, 'removed'), ...(after === null ? [] : [gt(documentVersions.versionId, after)])))
      .orderBy(asc(documentVersions.versionId))
      .limit(ctx.options.pageSize);
    for (const v of page) await checkRemoved(ctx, v);
    const last = page.at(-1);
    if (!last || page.length < ctx.options.pageSize) return;
    after = last.versionId;
  }
}

async function checkRemoved(ctx: CheckContext, v: { versionId: string; documentId: string; operationId: string | null; sagaId: string | null }): Promise<void> {
  ctx.counts.rowDocuments += 1;
  const left: { store: string; key: string; count: number }[] = [];
  for (const store of ROW_STORES) {
    const n = await countDocumentRows(ctx, store, v.versionId);
    if (n > 0 && (await recordedKeys(ctx, store, [v.versionId])).size === 0) left.push({ store, key: v.versionId, count: n });
  }
  if (v.operationId) {
    const prefix = `${ctx.options.keyPrefix}${v.operationId}/`;
    let objects = 0;
    const keys: string[] = [];
    for await (const o of ctx.chunkStore.list(prefix, ctx.options.signal ? { signal: ctx.options.signal } : {})) {
      objects += 1;
      if (keys.length < 20) keys.push(o.key);
    }
    ctx.counts.objectsListed += objects;
    if (objects > 0) {
      const recordedPrefix = (await recordedKeys(ctx, 's3-prefix', [prefix])).size > 0;
      const recordedChunks = await recordedKeys(ctx, 's3-chunk', keys);
      if (!recordedPrefix && keys.some((k) => !recordedChunks.has(k))) left.push({ store: 's3', key: prefix, count: objects });
    }
  }
  for (const l of left) {
    ctx.report({ kind: 'removed_document_remains', documentId: v.documentId, versionId: v.versionId, sagaId: v.sagaId, store: l.store, key: l.key, count: l.count });
  }
}
