// Finds the saga a document or an upload operation belongs to, from PostgreSQL alone.
import { eq, inArray, sql as dsql } from 'drizzle-orm';
import { isLiveStatus, sagaSchema } from '@ingest/saga-core';
import { storageSchema } from '@ingest/storage';
import { isUuid } from '../uuid.ts';
import type { CheckContext } from './check-context.ts';

/** The little the checker needs of a saga. */
export interface SagaRef {
  id: string;
  status: string;
}

const { sagaInstances } = sagaSchema;

/** Running or compensating: a saga that may still add or remove things. */
export function isLive(status: string | null | undefined): boolean {
  return status != null && isLiveStatus(status);
}

/** Whether a saga's things are accounted for by the saga itself: it is live, or it committed. */
export function accountsForItsData(status: string | null | undefined): boolean {
  return isLive(status) || status === 'completed';
}

/** The sagas whose input names each document id (normally one each). */
export async function sagasByDocument(ctx: CheckContext, documentIds: readonly string[]): Promise<Map<string, SagaRef[]>> {
  const out = new Map<string, SagaRef[]>();
  if (documentIds.length === 0) return out;
  const doc = dsql<string>`${sagaInstances.input}->>'documentId'`;
  const rows = await ctx.sagaDb
    .select({ id: sagaInstances.id, status: sagaInstances.status, documentId: doc })
    .from(sagaInstances)
    .where(inArray(doc, [...documentIds]));
  for (const r of rows) {
    const list = out.get(r.documentId) ?? [];
    list.push({ id: r.id, status: r.status });
    out.set(r.documentId, list);
  }
  return out;
}

/** The saga that owns an upload operation: the operation's owner, else a saga with that id or naming it in its input. */
export async function sagaOfOperation(ctx: CheckContext, operationId: string): Promise<SagaRef | null> {
  const [op] = await ctx.uploadDb
    .select({ owner: storageSchema.uploadOperations.owner })
    .from(storageSchema.uploadOperations)
    .where(eq(storageSchema.uploadOperations.id, operationId));
  const candidates = [op?.owner, operationId].filter((id): id is string => typeof id === 'string' && isUuid(id));
  for (const id of candidates) {
    const [s] = await ctx.sagaDb.select({ id: sagaInstances.id, status: sagaInstances.status }).from(sagaInstances).where(eq(sagaInstances.id, id));
    if (s) return s;
  }
  // The operation row itself may be what was lost: fall back to the saga input (a scan, but only for such strays).
  const [s] = await ctx.sagaDb
    .select({ id: sagaInstances.id, status: sagaInstances.status })
    .from(sagaInstances)
    .where(eq(dsql`${sagaInstances.input}->>'operationId'`, operationId))
    .limit(1);
  return s ?? null;
}

/** A saga's current status, or null when it does not exist. */
export async function sagaStatus(ctx: CheckContext, sagaId: string): Promise<string | null> {
  const [s] = await ctx.sagaDb.select({ status: sagaInstances.status }).from(sagaInstances).where(eq(sagaInstances.id, sagaId));
  return s?.status ?? null;
}
