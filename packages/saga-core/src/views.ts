// Read models: one saga as the API reports it, and fleet-wide counts.
import { and, asc, eq, gt, isNull, sql as dsql } from 'drizzle-orm';
import type { Db } from './db.ts';
import { SagaNotFoundError } from './errors.ts';
import { storedLockKeys } from './lock-keys.ts';
import { failedCleanups, sagaEvents, sagaInstances, sagaSteps } from './schema.ts';
import type { SagaStatus } from './state-machine.ts';
import type { JsonObject, JsonValue, SagaEventView, SagaFailure, SagaStats, SagaView, StepStatus } from './types.ts';

/** One saga with its steps and leftovers; throws SagaNotFoundError. */
export async function readSaga(db: Db, sagaId: string): Promise<SagaView> {
  const [s] = await db.select().from(sagaInstances).where(eq(sagaInstances.id, sagaId));
  if (!s) throw new SagaNotFoundError(sagaId);
  const steps = await db.select().from(sagaSteps).where(eq(sagaSteps.sagaId, sagaId)).orderBy(asc(sagaSteps.stepIndex));
  const leftovers = await db.select().from(failedCleanups).where(eq(failedCleanups.sagaId, sagaId)).orderBy(asc(failedCleanups.id));
  const stepViews = steps.map((r) => ({
    index: r.stepIndex,
    name: r.name,
    phase: (r.status === 'compensating' || r.status === 'compensated' || r.status === 'compensation_failed' ? 'compensation' : 'action') as 'action' | 'compensation',
    status: r.status as StepStatus,
    attempts: r.attempts,
    compensationAttempts: r.compensationAttempts,
    output: (r.output ?? null) as JsonValue | null,
    error: r.error,
    compensationError: r.compensationError,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
  }));
  return {
    id: s.id,
    name: s.name,
    state: s.state,
    status: s.status as SagaStatus,
    input: s.input as JsonValue,
    failure: (s.failure ?? null) as SagaFailure | null,
    progress: (s.progress ?? null) as JsonObject | null,
    idempotencyKey: s.idempotencyKey,
    lockKey: s.lockKey,
    lockKeys: storedLockKeys(s),
    deadlineAt: s.deadlineAt,
    cancelRequestedAt: s.cancelRequestedAt,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
    finishedAt: s.finishedAt,
    steps: stepViews,
    errors: steps.filter((r) => r.error).map((r) => `${r.name}: ${r.error}`),
    compensationErrors: steps.filter((r) => r.status === 'compensation_failed').map((r) => `${r.name}: ${r.compensationError ?? 'failed'}`),
    failedCleanups: leftovers.map((l) => ({ id: l.id, step: l.step, store: l.store, key: l.key, error: l.lastError ?? l.error, attempts: l.attempts, resolvedAt: l.resolvedAt })),
  };
}

/** Fleet-wide counts by status, read from PostgreSQL. */
export async function readStats(db: Db): Promise<SagaStats> {
  const rows = await db
    .select({ status: sagaInstances.status, n: dsql<number>`count(*)::int` })
    .from(sagaInstances)
    .groupBy(sagaInstances.status);
  const by = new Map(rows.map((r) => [r.status, Number(r.n)]));
  const n = (k: SagaStatus) => by.get(k) ?? 0;
  const [pending] = await db.select({ n: dsql<number>`count(*)::int` }).from(failedCleanups).where(isNull(failedCleanups.resolvedAt));
  const finished = n('completed') + n('compensated') + n('compensation_failed') + n('failed');
  return {
    active: n('running') + n('compensating'),
    completed: n('completed'),
    compensated: n('compensated'),
    compensationFailed: n('compensation_failed'),
    failed: n('failed'),
    successRate: finished === 0 ? 100 : Math.round((n('completed') / finished) * 10_000) / 100,
    pendingCleanups: Number(pending?.n ?? 0),
  };
}

/** A saga's audit trail, oldest first, at most `limit` events after event id `afterId`; throws SagaNotFoundError. */
export async function readEvents(db: Db, sagaId: string, options: { afterId?: number; limit?: number } = {}): Promise<SagaEventView[]> {
  const [s] = await db.select({ id: sagaInstances.id }).from(sagaInstances).where(eq(sagaInstances.id, sagaId));
  if (!s) throw new SagaNotFoundError(sagaId);
  const rows = await db
    .select()
    .from(sagaEvents)
    .where(and(eq(sagaEvents.sagaId, sagaId), gt(sagaEvents.id, options.afterId ?? 0)))
    .orderBy(asc(sagaEvents.id))
    .limit(Math.min(Math.max(options.limit ?? 500, 1), 5000));
  return rows.map((r) => ({
    id: r.id,
    type: r.type,
    step: r.step,
    phase: r.phase as 'action' | 'compensation' | null,
    attempt: r.attempt,
    fromState: r.fromState,
    toState: r.toState,
    data: (r.data ?? null) as JsonValue | null,
    at: r.createdAt,
  }));
}
