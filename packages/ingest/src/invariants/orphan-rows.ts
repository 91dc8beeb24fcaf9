// Scans each downstream store's document ids page by page and reports rows of documents whose saga neither
// committed nor is live, unless a recorded leftover names them.
import type { CheckContext } from './check-context.ts';
import { countDocumentRows, documentIdSources, type DocumentIdSource } from './document-rows.ts';
import { recordedKeys } from './recorded-leftovers.ts';
import { accountsForItsData, sagasByDocument, type SagaRef } from './saga-lookup.ts';

/** Reports orphan_rows and (for compensation_failed sagas) unrecorded_leftover of row stores. */
export async function scanOrphanRows(ctx: CheckContext): Promise<void> {
  for (const source of documentIdSources(ctx)) {
    let after: string | null = null;
    // Bounded: every page moves the cursor forward and the loop ends on a short page.
    for (;;) {
      ctx.checkAborted();
      const page = await source.page(after, ctx.options.pageSize);
      ctx.counts.rowDocuments += page.ids.length;
      await judgePage(ctx, source, page.ids);
      if (page.next === null) break;
      after = page.next;
    }
  }
}

async function judgePage(ctx: CheckContext, source: DocumentIdSource, documentIds: string[]): Promise<void> {
  if (documentIds.length === 0) return;
  const sagas = await sagasByDocument(ctx, documentIds);
  const unaccounted = documentIds.filter((id) => !(sagas.get(id) ?? []).some((s) => accountsForItsData(s.status)));
  if (unaccounted.length === 0) return;
  const recorded = await recordedKeys(ctx, source.store, unaccounted);
  const suspects = unaccounted.filter((id) => !recorded.has(id));
  if (suspects.length === 0) return;
  // Look again: a rollback may have removed the rows since the page was read, or a saga may have just started.
  const again = await sagasByDocument(ctx, suspects);
  for (const documentId of suspects) {
    const owners: SagaRef[] = again.get(documentId) ?? [];
    if (owners.some((s) => accountsForItsData(s.status))) continue;
    const rows = await countDocumentRows(ctx, source.store, documentId);
    if (rows === 0) continue;
    const failed = owners.find((s) => s.status === 'compensation_failed');
    if (failed) {
      ctx.report({ kind: 'unrecorded_leftover', sagaId: failed.id, store: source.store, ownerId: documentId, count: rows, keys: [documentId] });
    } else {
      const owner = owners[0];
      ctx.report({ kind: 'orphan_rows', store: source.store, documentId, sagaId: owner?.id ?? null, sagaStatus: owner?.status ?? null, count: rows });
    }
  }
}
