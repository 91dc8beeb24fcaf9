// The consistency checker: cross-checks saga state, the bucket and every downstream store, and reports each
// place where DESIGN §1's promise (committed, rolled back, or every leftover recorded) does not hold.
import { count } from 'drizzle-orm';
import { isLiveStatus, sagaSchema } from '@ingest/saga-core';
import { createCheckContext, type CheckContext } from './check-context.ts';
import { scanCommittedDocuments } from './committed-documents.ts';
import { scanDuplicates } from './duplicates.ts';
import { resolveInvariantOptions, type InvariantDeps, type InvariantOptions } from './invariant-deps.ts';
import { scanLeftoverEntries } from './leftover-entries.ts';
import { scanOrphanChunks } from './orphan-chunks.ts';
import { scanOrphanRows } from './orphan-rows.ts';
import { scanOverdueSagas } from './overdue-sagas.ts';
import { scanRemovedDocuments } from './removed-documents.ts';
import type { InvariantReport } from './violation.ts';

/** Runs every scan once, read-only, streaming sagas, listings and rows page by page; never throws for a violation. */
export async function checkInvariants(deps: InvariantDeps, options: InvariantOptions = {}): Promise<InvariantReport> {
  const started = Date.now();
  const ctx = createCheckContext(deps, resolveInvariantOptions(options));
  await countSagas(ctx);
  // Cheap database-only scans first, then the ones that walk the bucket.
  await scanOverdueSagas(ctx);
  await scanDuplicates(ctx);
  await scanLeftoverEntries(ctx);
  await scanOrphanRows(ctx);
  await scanOrphanChunks(ctx);
  await scanCommittedDocuments(ctx);
  await scanRemovedDocuments(ctx);
  return {
    ok: ctx.total === 0,
    violations: ctx.kept,
    violationCount: ctx.total,
    byKind: ctx.byKind,
    scanned: ctx.counts,
    deep: ctx.options.deep,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
  };
}

async function countSagas(ctx: CheckContext): Promise<void> {
  const { sagaInstances } = sagaSchema;
  const rows = await ctx.sagaDb.select({ status: sagaInstances.status, n: count() }).from(sagaInstances).groupBy(sagaInstances.status);
  for (const r of rows) {
    const n = Number(r.n);
    ctx.counts.sagas += n;
    if (isLiveStatus(r.status)) ctx.counts.liveSagas += n;
    if (r.status === 'completed') ctx.counts.completedSagas += n;
  }
}
