// Reads from the soak's PostgreSQL how every saga ended and what is still pending, for quiescing and the report.
import { and, asc, count, gt, inArray, isNull } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import type { Sql } from 'postgres';
import { sagaSchema } from '@ingest/saga-core';

const { sagaInstances, failedCleanups } = sagaSchema;

/** One saga's end (or not). */
export interface SagaOutcome {
  id: string;
  status: string;
  idempotencyKey: string | null;
  reason: string | null;
}

/** Every saga of the soak's database, page by page. */
export async function readSagaOutcomes(sql: Sql): Promise<SagaOutcome[]> {
  const db = drizzle(sql, { schema: sagaSchema });
  const out: SagaOutcome[] = [];
  let after: string | null = null;
  // Bounded: keyset pages; the soak's database holds only the soak's sagas (a few hundred at most).
  for (;;) {
    const page: { id: string; status: string; idempotencyKey: string | null; failure: unknown }[] = await db
      .select({ id: sagaInstances.id, status: sagaInstances.status, idempotencyKey: sagaInstances.idempotencyKey, failure: sagaInstances.failure })
      .from(sagaInstances)
      .where(after === null ? undefined : gt(sagaInstances.id, after))
      .orderBy(asc(sagaInstances.id))
      .limit(500);
    for (const s of page) out.push({ id: s.id, status: s.status, idempotencyKey: s.idempotencyKey, reason: (s.failure as { reason?: string } | null)?.reason ?? null });
    const last = page[page.length - 1];
    if (!last || page.length < 500) return out;
    after = last.id;
  }
}

/** How many sagas are still running or compensating. */
export async function countLive(sql: Sql): Promise<number> {
  const db = drizzle(sql, { schema: sagaSchema });
  const [row] = await db.select({ n: count() }).from(sagaInstances).where(inArray(sagaInstances.status, ['running', 'compensating']));
  return Number(row?.n ?? 0);
}

/** How many sagas are compensating right now. */
export async function countCompensating(sql: Sql): Promise<number> {
  const db = drizzle(sql, { schema: sagaSchema });
  const [row] = await db.select({ n: count() }).from(sagaInstances).where(inArray(sagaInstances.status, ['compensating']));
  return Number(row?.n ?? 0);
}

/** Unresolved leftovers per saga, and when the next one is due. */
export async function pendingLeftovers(sql: Sql): Promise<{ bySaga: Map<string, number>; nextDueAt: Date | null }> {
  const db = drizzle(sql, { schema: sagaSchema });
  const rows = await db
    .select({ sagaId: failedCleanups.sagaId, nextAttemptAt: failedCleanups.nextAttemptAt })
    .from(failedCleanups)
    .where(and(isNull(failedCleanups.resolvedAt)));
  const bySaga = new Map<string, number>();
  let nextDueAt: Date | null = null;
  for (const r of rows) {
    bySaga.set(r.sagaId, (bySaga.get(r.sagaId) ?? 0) + 1);
    if (!nextDueAt || r.nextAttemptAt < nextDueAt) nextDueAt = r.nextAttemptAt;
  }
  return { bySaga, nextDueAt };
}

/** Sagas that recorded any leftover at all (resolved or not). */
export async function sagasWithLeftovers(sql: Sql): Promise<Set<string>> {
  const db = drizzle(sql, { schema: sagaSchema });
  const rows = await db.selectDistinct({ sagaId: failedCleanups.sagaId }).from(failedCleanups);
  return new Set(rows.map((r) => r.sagaId));
}
