// Rolls a saga back on request (user cancellation, overdue deadline): at once when no worker runs it,
// otherwise by flagging it so the running step aborts at its next check.
import { emitEvent, type EngineCore } from './core.ts';
import { SagaNotFoundError } from './errors.ts';
import { storedLockKeys } from './lock-keys.ts';
import { lockSaga } from './load-saga.ts';
import { jobIdOf, queueName } from './queues.ts';
import type { SagaDefinition } from './types.ts';
import { isTerminal, type SagaState, type SagaStatus } from './state-machine.ts';
import { beginRollback, recordEvent, saveSaga, type TransitionResult } from './transitions.ts';

/** What became of a rollback request. */
export interface RollbackRequestResult {
  /** false when the saga had already ended. */
  accepted: boolean;
  state: SagaState;
}

/** Removes the saga's current job from its queue; false when a worker holds it (BullMQ refuses to remove a locked job). */
async function jobIsIdle(core: EngineCore, def: SagaDefinition, step: number, sagaId: string, seq: number): Promise<boolean> {
  const stepDef = def.steps[step];
  if (!stepDef) return true;
  // Redis unreachable: only flag; whichever worker runs the job next sees the flag.
  const removed = await core.dispatcher
    .queue(queueName(def.name, stepDef.name, 'action'))
    .remove(jobIdOf(sagaId, seq))
    .catch(() => 0);
  return removed === 1;
}

/** Requests rollback with `reason` (CANCELLED or TIMEOUT). Idempotent. */
export async function requestRollback(core: EngineCore, sagaId: string, reason: 'CANCELLED' | 'TIMEOUT', message: string): Promise<RollbackRequestResult> {
  const out = await core.db.transaction(async (tx) => {
    const ls = await lockSaga(tx, sagaId, core.defs, core.logger);
    if (!ls) throw new SagaNotFoundError(sagaId);
    const s = ls.saga;
    if (isTerminal(s.state)) return { accepted: false, state: s.state, result: null, ls };
    if (!s.cancelRequestedAt) {
      s.cancelRequestedAt = new Date();
      s.cancelReason = reason;
      await recordEvent(tx, s.id, reason === 'CANCELLED' ? 'cancel_requested' : 'deadline_passed', { data: { message } });
    }
    let result: TransitionResult | null = null;
    const leaseLive = s.leaseOwner !== null && s.leaseUntil !== null && s.leaseUntil > new Date();
    // A short step runs without a lease: only its job's lock in BullMQ says whether a worker is in it. Removing the job
    // succeeds only when no worker holds it, and then none ever will; otherwise the running step's commit fails its
    // fence on the flag set here, or its heartbeat sees the flag, and the rollback starts from there.
    // A step marked running without a lease runs in the process that ran the step before it (its job never went to Redis).
    const runningHere = ls.steps[s.currentStep]?.status === 'running';
    if (s.currentPhase === 'action' && !leaseLive && !runningHere && (await jobIsIdle(core, ls.def, s.currentStep, s.id, s.dispatchSeq))) {
      const step = ls.def.steps[s.currentStep];
      result = await beginRollback(ls, s.currentStep, { reason, message, step: step?.name ?? null });
    } else {
      await saveSaga(ls);
    }
    return { accepted: true, state: s.state, result, ls };
  });
  if (out.result) {
    await core.dispatcher.dispatch(out.result.outbox);
    if (out.result.ended) {
      await core.locks.release(storedLockKeys(out.ls.saga), sagaId).catch(() => 0);
      emitEvent(core, 'saga_ended', { sagaId, sagaName: out.ls.def.name, status: out.ls.saga.status as SagaStatus });
    }
  }
  return { accepted: out.accepted, state: out.state };
}
