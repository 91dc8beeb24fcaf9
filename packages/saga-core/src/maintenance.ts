// Periodic repairs a janitor (or any worker) runs: undelivered transitions, lost jobs, overdue sagas, stale locks,
// and the retry of recorded leftovers through their saga's store registry. Each is safe to run from several processes at once.
import { and, asc, eq, inArray, isNull, lt, lte, or, sql as dsql } from 'drizzle-orm';
import type { EngineCore } from './core.ts';
import type { JsonValue } from './types.ts';
import { toError } from './errors.ts';
import { lockSaga } from './load-saga.ts';
import { jobIdOf, queueName } from './queues.ts';
import { requestRollback } from './request-rollback.ts';
import { failedCleanups, sagaInstances } from './schema.ts';
import { resolveStore, type UndoContext } from './store-registry.ts';
import { LIVE_STATUSES, isLiveStatus, isTerminal } from './state-machine.ts';
import { recordEvent, saveSaga, scheduleJob } from './transitions.ts';

/** Options of retryFailedCleanups. */
export interface RetryCleanupsOptions {
  /** Rows per pass. Default 100. */
  limit?: number;
  /** First retry delay of a row that failed again; doubles per attempt, capped at an hour. Default 30 000 ms. */
  baseBackoffMs?: number;
  /** Only these leftovers, whether due or not (an operator's retry). Default: every due one. */
  ids?: number[];
}

/** Summary of one pass over failed_cleanups. */
export interface CleanupPassResult {
  attempted: number;
  resolved: number;
  failed: number;
}

/** Re-enqueues the current job of live sagas whose job is gone from Redis and that no worker holds. */
export async function recoverLostJobs(core: EngineCore, idleMs: number): Promise<number> {
  const candidates = await core.db
    .select()
    .from(sagaInstances)
    .where(
      and(
        inArray(sagaInstances.status, [...LIVE_STATUSES]),
        or(isNull(sagaInstances.leaseUntil), lt(sagaInstances.leaseUntil, dsql`now()`)),
        lt(sagaInstances.updatedAt, dsql`now() - make_interval(secs => ${idleMs / 1000})`),
      ),
    )
    .limit(500);
  let recovered = 0;
  for (const s of candidates) {
    const def = core.defs.get(s.name);
    const step = def?.steps[s.currentStep];
    if (!def || !step) continue;
    const job = await core.dispatcher.queue(queueName(def.name, step.name, s.currentPhase as 'action' | 'compensation')).getJob(jobIdOf(s.id, s.dispatchSeq));
    if (job) {
      const state = await job.getState();
      if (state !== 'failed' && state !== 'completed' && state !== 'unknown') continue;
    }
    const outbox = await core.db.transaction(async (tx) => {
      const ls = await lockSaga(tx, s.id, core.defs, core.logger);
      if (!ls || ls.saga.dispatchSeq !== s.dispatchSeq || isTerminal(ls.saga.state)) return null;
      if (ls.saga.leaseUntil && ls.saga.leaseUntil > new Date()) return null;
      const row = await scheduleJob(ls, ls.saga.currentStep, ls.saga.currentPhase as 'action' | 'compensation');
      await saveSaga(ls);
      await recordEvent(tx, s.id, 'job_redispatched', { step: step.name, phase: s.currentPhase as 'action' | 'compensation', data: { previousJobId: jobIdOf(s.id, s.dispatchSeq) } });
      return row;
    });
    if (outbox) {
      await core.dispatcher.dispatch([outbox]);
      core.logger.warn({ sagaId: s.id, step: step.name, phase: s.currentPhase }, 'job was lost (Redis data loss or failed job); re-dispatched from PostgreSQL');
      recovered++;
    }
  }
  return recovered;
}

/** Rolls back live sagas past their deadline (those still doing actions). */
export async function rollBackOverdue(core: EngineCore): Promise<number> {
  const overdue = await core.db
    .select({ id: sagaInstances.id })
    .from(sagaInstances)
    .where(and(eq(sagaInstances.status, 'running'), lte(sagaInstances.deadlineAt, dsql`now()`), isNull(sagaInstances.cancelRequestedAt)))
    .limit(500);
  let n = 0;
  for (const { id } of overdue) {
    const r = await requestRollback(core, id, 'TIMEOUT', 'saga deadline passed');
    if (r.accepted) n++;
  }
  return n;
}

/** Releases Redis locks whose holder saga has ended or does not exist. */
export async function releaseStaleLocks(core: EngineCore): Promise<number> {
  let released = 0;
  for await (const { lockKey, holder } of core.locks.list()) {
    const [s] = await core.db.select({ status: sagaInstances.status }).from(sagaInstances).where(eq(sagaInstances.id, holder));
    if (s && isLiveStatus(s.status)) continue;
    if ((await core.locks.release([lockKey], holder)) > 0) {
      core.logger.info({ lockKey, holder }, 'released a stale lock');
      released++;
    }
  }
  return released;
}

/** Retries due leftovers with their saga's declared store (its undo); exponential backoff per leftover, capped at an hour. */
export async function retryFailedCleanups(core: EngineCore, options: RetryCleanupsOptions = {}): Promise<CleanupPassResult> {
  const limit = options.limit ?? 100;
  const base = options.baseBackoffMs ?? 30_000;
  // Claim by pushing next_attempt_at ahead, so a concurrent janitor skips these rows.
  const claimed = await core.db.transaction(async (tx) => {
    const due = await tx
      .select()
      .from(failedCleanups)
      // `ids`: an operator asked for these now, due or not.
      .where(and(isNull(failedCleanups.resolvedAt), options.ids ? inArray(failedCleanups.id, options.ids) : lte(failedCleanups.nextAttemptAt, dsql`now()`)))
      .orderBy(asc(failedCleanups.nextAttemptAt))
      .limit(limit)
      .for('update', { skipLocked: true });
    if (due.length > 0) {
      await tx
        .update(failedCleanups)
        .set({ nextAttemptAt: dsql`now() + interval '10 minutes'`, attempts: dsql`${failedCleanups.attempts} + 1` })
        .where(inArray(failedCleanups.id, due.map((d) => d.id)));
    }
    return due;
  });
  const result: CleanupPassResult = { attempted: claimed.length, resolved: 0, failed: 0 };
  const sagaIds = [...new Set(claimed.map((r) => r.sagaId))];
  const names = new Map(
    sagaIds.length === 0 ? [] : (await core.db.select({ id: sagaInstances.id, name: sagaInstances.name }).from(sagaInstances).where(inArray(sagaInstances.id, sagaIds))).map((r) => [r.id, r.name]),
  );
  for (const row of claimed) {
    const sagaName = names.get(row.sagaId) ?? '?';
    const leftover: UndoContext = {
      sagaId: row.sagaId,
      step: row.step,
      store: row.store,
      key: row.key,
      details: isObject(row.details) ? row.details : null,
      attempts: row.attempts + 1,
      releaseExclusivity: async (lockKey) => (await core.locks.release([lockKey], row.sagaId)) > 0,
    };
    try {
      const def = core.defs.get(sagaName);
      if (!def) throw new Error(`saga "${sagaName}" of leftover ${row.id} is not registered in this process`);
      await resolveStore(def.name, def.stores, row.store).undo(row.key, leftover);
      await core.db.update(failedCleanups).set({ resolvedAt: new Date(), lastError: null }).where(eq(failedCleanups.id, row.id));
      await core.db.transaction((tx) => recordEvent(tx, row.sagaId, 'leftover_cleaned', { step: row.step, data: { store: row.store, key: row.key } }));
      core.logger.info({ sagaId: row.sagaId, store: row.store, key: row.key }, 'leftover cleaned');
      result.resolved++;
    } catch (err) {
      const delay = Math.min(3_600_000, base * 2 ** Math.min(16, row.attempts));
      await core.db
        .update(failedCleanups)
        .set({ lastError: toError(err).message, nextAttemptAt: new Date(Date.now() + delay) })
        .where(eq(failedCleanups.id, row.id));
      core.logger.warn({ sagaId: row.sagaId, store: row.store, key: row.key, err: toError(err), retryInMs: delay }, 'leftover still not cleaned');
      result.failed++;
    }
  }
  return result;
}

function isObject(v: unknown): v is { [key: string]: JsonValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
