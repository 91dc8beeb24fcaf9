// Scans the bucket operation by operation (the listing is sorted by key, so an operation's chunks are contiguous)
// and reports objects that no live saga, committed document or recorded leftover accounts for.
import { and, eq, inArray } from 'drizzle-orm';
import { bucketManifestKey, forEachBounded, storageSchema } from '@ingest/storage';
import type { CheckContext } from './check-context.ts';
import { recordedKeys } from './recorded-leftovers.ts';
import { isLive, sagaOfOperation, sagaStatus, type SagaRef } from './saga-lookup.ts';

const SAMPLE = 20;

/** Per-operation state while its keys stream by; only one operation's batch of keys is held at a time. */
interface OperationScan {
  operationId: string;
  saga: SagaRef | null;
  orphan: { count: number; keys: string[] };
  unrecorded: { count: number; keys: string[] };
}

/** Reports orphan_chunks and (for compensation_failed sagas) unrecorded_leftover of store s3-chunk. */
export async function scanOrphanChunks(ctx: CheckContext): Promise<void> {
  const prefix = ctx.options.keyPrefix;
  let scan: OperationScan | null = null;
  let batch: string[] = [];
  const flushBatch = async (): Promise<void> => {
    if (scan && batch.length > 0) await judgeBatch(ctx, scan, batch);
    batch = [];
  };
  for await (const object of ctx.chunkStore.list(prefix, ctx.options.signal ? { signal: ctx.options.signal } : {})) {
    ctx.counts.objectsListed += 1;
    const operationId = object.key.slice(prefix.length).split('/')[0] ?? '';
    if (!scan || scan.operationId !== operationId) {
      await flushBatch();
      if (scan) finish(ctx, scan);
      ctx.checkAborted();
      ctx.counts.operationsListed += 1;
      scan = { operationId, saga: await sagaOfOperation(ctx, operationId), orphan: { count: 0, keys: [] }, unrecorded: { count: 0, keys: [] } };
    }
    batch.push(object.key);
    if (batch.length >= ctx.options.pageSize) await flushBatch();
  }
  await flushBatch();
  if (scan) finish(ctx, scan);
}

async function judgeBatch(ctx: CheckContext, scan: OperationScan, keys: string[]): Promise<void> {
  const status = scan.saga?.status ?? null;
  if (isLive(status)) return;
  let suspects: string[];
  if (status === 'completed') {
    // A committed document owns exactly its manifest's keys; anything else under its prefix is a stray.
    const known = await manifestKeys(ctx, scan.operationId, keys);
    // Its manifest object (written at commit, beside the chunks) belongs to it too.
    suspects = keys.filter((k) => !known.has(k) && k !== bucketManifestKey(`${ctx.options.keyPrefix}${scan.operationId}/`));
  } else if ((await recordedKeys(ctx, 's3-prefix', [`${ctx.options.keyPrefix}${scan.operationId}/`])).size > 0) {
    // The whole prefix is a recorded leftover (the store was down during the cleanup): every key under it is accounted for.
    suspects = [];
  } else {
    const recorded = await recordedKeys(ctx, 's3-chunk', keys);
    suspects = keys.filter((k) => !recorded.has(k));
  }
  if (suspects.length === 0) return;
  // The world may have moved since the listing (a rollback finishing, a saga starting): look again before accusing.
  if (scan.saga) {
    const now = await sagaStatus(ctx, scan.saga.id);
    if (now !== status) return;
  }
  const present: string[] = [];
  await forEachBounded(suspects, ctx.options.parallelism, async (key) => {
    if (await ctx.chunkStore.exists(key, ctx.options.signal ? { signal: ctx.options.signal } : {})) present.push(key);
  });
  present.sort();
  const target = status === 'compensation_failed' ? scan.unrecorded : scan.orphan;
  target.count += present.length;
  for (const key of present) if (target.keys.length < SAMPLE) target.keys.push(key);
}

function finish(ctx: CheckContext, scan: OperationScan): void {
  if (scan.orphan.count > 0) {
    ctx.report({
      kind: 'orphan_chunks',
      operationId: scan.operationId,
      sagaId: scan.saga?.id ?? null,
      sagaStatus: scan.saga?.status ?? null,
      count: scan.orphan.count,
      keys: scan.orphan.keys,
    });
  }
  if (scan.unrecorded.count > 0 && scan.saga) {
    ctx.report({ kind: 'unrecorded_leftover', sagaId: scan.saga.id, store: 's3-chunk', ownerId: scan.operationId, count: scan.unrecorded.count, keys: scan.unrecorded.keys });
  }
}

async function manifestKeys(ctx: CheckContext, operationId: string, keys: readonly string[]): Promise<Set<string>> {
  const { uploadChunks } = storageSchema;
  const rows = await ctx.uploadDb
    .select({ key: uploadChunks.key })
    .from(uploadChunks)
    .where(and(eq(uploadChunks.operationId, operationId), inArray(uploadChunks.key, [...keys])));
  return new Set(rows.map((r) => r.key));
}
