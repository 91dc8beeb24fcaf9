// The processor of every step and compensation queue: check the persisted state, claim, run, commit outcome + next job.
import { DelayedError, type Job } from 'bullmq';
import { eq, sql as dsql } from 'drizzle-orm';
import type { EngineCore } from './core.ts';
import { CompensationFailed, isRollbackRequired, type Leftover } from './errors.ts';
import { lockSaga } from './load-saga.ts';
import { parseJobPayload, queueName, type JobPayload } from './queues.ts';
import { DEFAULT_ACTION_RETRY, DEFAULT_COMPENSATION_RETRY, backoffDelay } from './retry.ts';
import { runPhase, type PhaseOutcome } from './run-phase.ts';
import { sagaDeadLetters, sagaInstances } from './schema.ts';
import { isTerminal, pathToStepState, type SagaState } from './state-machine.ts';
import {
  beginRollback,
  completeAction,
  completeCompensation,
  giveUpCompensation,
  moveState,
  pauseAction,
  pauseCompensation,
  recordEvent,
  retryAction,
  retryCompensation,
  saveSaga,
  saveStep,
  type LockedSaga,
  type TransitionResult,
} from './transitions.ts';
import type { JsonValue } from './types.ts';

type Claim =
  | { kind: 'run'; attempt: number; input: JsonValue; outputs: Record<string, JsonValue | undefined>; deadlineAt: Date; sagaName: string }
  | { kind: 'stale'; why: string }
  | { kind: 'busy'; until: Date }
  | { kind: 'dead'; reason: string }
  | { kind: 'transitioned'; result: TransitionResult; sagaId: string; lockKey: string | null; status: string; name: string };

/** Handles one delivery. Duplicate and stale deliveries are no-ops; malformed ones are set aside. */
export async function handleJob(core: EngineCore, job: Job, token: string | undefined): Promise<void> {
  const parsed = parseJobPayload(job.data);
  if (!parsed.ok) return deadLetter(core, job, parsed.reason);
  const payload = parsed.payload;
  const claim = await claimJob(core, job, payload);
  const log = core.logger.child({ sagaId: payload.sagaId, step: payload.step, phase: payload.phase, jobId: job.id });
  switch (claim.kind) {
    case 'dead':
      return deadLetter(core, job, claim.reason);
    case 'stale':
      log.debug({ why: claim.why }, 'stale or duplicate delivery ignored');
      return;
    case 'busy':
      // Another live worker holds this step (a stalled-job false alarm): look again when its lease ends.
      await job.moveToDelayed(claim.until.getTime() + 250, token);
      throw new DelayedError();
    case 'transitioned':
      await afterCommit(core, claim.result, claim.sagaId, claim.lockKey, claim.name, claim.status);
      return;
    case 'run':
      break;
  }
  const def = core.defs.get(claim.sagaName)!;
  const step = def.steps[payload.step]!;
  const stepLog = log.child({ saga: def.name, step: step.name, attempt: claim.attempt });
  const started = Date.now();
  stepLog.info(`${payload.phase} started`);
  const outcome = await runPhase(core, {
    payload,
    sagaName: def.name,
    step,
    attempt: claim.attempt,
    input: claim.input,
    outputs: claim.outputs,
    deadlineAt: claim.deadlineAt,
    log: stepLog,
  });
  const durationMs = Date.now() - started;
  const summary = outcome.kind === 'ok' ? 'succeeded' : outcome.kind === 'aborted' ? `aborted (${outcome.cause})` : `failed: ${outcome.error.message}`;
  (outcome.kind === 'ok' ? stepLog.info.bind(stepLog) : stepLog.warn.bind(stepLog))(
    { durationMs, outcome: outcome.kind, ...(outcome.kind === 'error' ? { err: outcome.error } : {}) },
    `${payload.phase} ${summary}`,
  );
  core.events.emit('step', { sagaName: def.name, step: step.name, phase: payload.phase, outcome: outcome.kind, durationMs });

  const committed = await core.db.transaction(async (tx) => {
    const ls = await lockSaga(tx, payload.sagaId, core.defs, core.logger);
    if (!ls || ls.saga.dispatchSeq !== payload.seq || ls.saga.leaseOwner !== core.workerId) {
      stepLog.warn('lost this step to another worker before committing; outcome discarded');
      return null;
    }
    const result = payload.phase === 'action' ? await commitAction(ls, payload.step, outcome) : await commitCompensation(ls, payload.step, outcome);
    return result ? { result, lockKey: ls.saga.lockKey, status: ls.saga.status } : null;
  });
  if (committed) await afterCommit(core, committed.result, payload.sagaId, committed.lockKey, def.name, committed.status);
}

async function claimJob(core: EngineCore, job: Job, payload: JobPayload): Promise<Claim> {
  return core.db.transaction(async (tx): Promise<Claim> => {
    let ls: LockedSaga | null;
    try {
      ls = await lockSaga(tx, payload.sagaId, core.defs, core.logger);
    } catch (err) {
      return { kind: 'dead', reason: (err as Error).message };
    }
    if (!ls) return { kind: 'dead', reason: `no saga with id ${payload.sagaId}` };
    const step = ls.def.steps[payload.step];
    if (!step) return { kind: 'dead', reason: `saga "${ls.def.name}" has no step ${payload.step}` };
    const expected = queueName(ls.def.name, step.name, payload.phase);
    if (job.queueName !== expected) return { kind: 'dead', reason: `job for ${expected} arrived on queue ${job.queueName}` };
    const { saga } = ls;
    if (isTerminal(saga.state as SagaState)) return { kind: 'stale', why: `saga is ${saga.state}` };
    if (saga.dispatchSeq !== payload.seq) return { kind: 'stale', why: `dispatch ${payload.seq} superseded by ${saga.dispatchSeq}` };
    const now = new Date();
    if (saga.leaseOwner && saga.leaseOwner !== core.workerId && saga.leaseUntil && saga.leaseUntil > now) {
      return { kind: 'busy', until: saga.leaseUntil };
    }
    const base = { sagaId: saga.id, lockKey: saga.lockKey, name: ls.def.name };
    if (payload.phase === 'action') {
      if (saga.cancelRequestedAt || saga.deadlineAt <= now) {
        const timeout = saga.cancelReason === 'TIMEOUT' || (!saga.cancelRequestedAt && saga.deadlineAt <= now);
        const result = await beginRollback(ls, payload.step, {
          reason: timeout ? 'TIMEOUT' : 'CANCELLED',
          message: timeout ? 'saga deadline passed' : 'saga cancelled',
          step: step.name,
        });
        return { kind: 'transitioned', result, status: saga.status, ...base };
      }
      await moveState(ls, pathToStepState(saga.state as SagaState, step.state ?? 'processing', saga.id));
      const attempts = ls.steps[payload.step]!.attempts + 1;
      await saveStep(ls, payload.step, { status: 'running', attempts, startedAt: now });
    } else {
      await saveStep(ls, payload.step, { status: 'compensating', compensationAttempts: ls.steps[payload.step]!.compensationAttempts + 1 });
    }
    saga.leaseOwner = core.workerId;
    saga.leaseUntil = new Date(now.getTime() + core.timings.leaseMs);
    await saveSaga(ls);
    const row = ls.steps[payload.step]!;
    const attempt = payload.phase === 'action' ? row.attempts : row.compensationAttempts;
    await recordEvent(tx, saga.id, payload.phase === 'action' ? 'step_started' : 'compensation_started', { step: step.name, phase: payload.phase, attempt, data: { worker: core.workerId, jobId: job.id } });
    const outputs: Record<string, JsonValue | undefined> = {};
    ls.steps.forEach((s, i) => {
      const name = ls!.def.steps[i]?.name;
      if (name && (s.status === 'succeeded' || s.output !== null)) outputs[name] = (s.output ?? undefined) as JsonValue | undefined;
    });
    return { kind: 'run', attempt, input: saga.input as JsonValue, outputs, deadlineAt: saga.deadlineAt, sagaName: ls.def.name };
  });
}

async function commitAction(ls: LockedSaga, index: number, outcome: PhaseOutcome): Promise<TransitionResult | null> {
  const step = ls.def.steps[index]!;
  if (outcome.kind === 'ok') return completeAction(ls, index, outcome.output);
  if (outcome.kind === 'aborted') {
    switch (outcome.cause) {
      case 'LEASE_LOST':
        return null;
      case 'SHUTDOWN':
        return pauseAction(ls, index);
      case 'CANCELLED':
      case 'TIMEOUT':
        return beginRollback(ls, index, { reason: outcome.cause, message: outcome.message, step: step.name });
      case 'STEP_TIMEOUT':
        break;
    }
  }
  const error = outcome.kind === 'error' ? outcome.error : new Error(outcome.message);
  if (isRollbackRequired(error)) return beginRollback(ls, index, { reason: error.reason, message: error.message, step: step.name });
  const policy = step.retry ?? DEFAULT_ACTION_RETRY;
  const attempts = ls.steps[index]!.attempts;
  const message = `${error.name}: ${error.message}`;
  if (attempts < policy.attempts) return retryAction(ls, index, message, backoffDelay(policy, attempts + 1));
  return beginRollback(ls, index, {
    reason: 'MAX_RETRIES_EXCEEDED',
    message: `step "${step.name}" failed after ${attempts} attempt(s); last error: ${message}`,
    step: step.name,
  });
}

async function commitCompensation(ls: LockedSaga, index: number, outcome: PhaseOutcome): Promise<TransitionResult | null> {
  const step = ls.def.steps[index]!;
  if (outcome.kind === 'ok') return completeCompensation(ls, index);
  if (outcome.kind === 'aborted' && outcome.cause === 'LEASE_LOST') return null;
  if (outcome.kind === 'aborted' && outcome.cause === 'SHUTDOWN') return pauseCompensation(ls, index);
  const error = outcome.kind === 'error' ? outcome.error : new Error(outcome.message);
  const policy = step.compensationRetry ?? DEFAULT_COMPENSATION_RETRY;
  const attempts = ls.steps[index]!.compensationAttempts;
  const message = `${error.name}: ${error.message}`;
  if (attempts < policy.attempts) return retryCompensation(ls, index, message, backoffDelay(policy, attempts + 1));
  const leftovers: Leftover[] =
    error instanceof CompensationFailed || error.name === 'CompensationFailed'
      ? (error as CompensationFailed).leftovers
      : [{ store: step.name, key: ls.saga.id, error: message }];
  return giveUpCompensation(ls, index, message, leftovers);
}

async function afterCommit(core: EngineCore, result: TransitionResult, sagaId: string, lockKey: string | null, name: string, status: string): Promise<void> {
  await core.dispatcher.dispatch(result.outbox);
  if (!result.ended) return;
  if (lockKey) {
    await core.locks.release(lockKey, sagaId).catch((err: unknown) => core.logger.warn({ err, sagaId, lockKey }, 'lock release failed; it expires on its own'));
  }
  core.logger.info({ sagaId, saga: name, status }, `saga ended ${status}`);
  core.events.emit('saga_ended', { sagaId, sagaName: name, status });
}

async function deadLetter(core: EngineCore, job: Job, reason: string): Promise<void> {
  core.logger.error({ queue: job.queueName, jobId: job.id, reason }, 'job set aside as a dead letter');
  await core.db.insert(sagaDeadLetters).values({ queue: job.queueName, jobId: job.id ?? null, data: (job.data ?? null) as JsonValue, reason });
}

/** Marks sagas whose lease belongs to this worker as free (used on shutdown after workers closed). */
export async function releaseOwnLeases(core: EngineCore): Promise<void> {
  await core.db
    .update(sagaInstances)
    .set({ leaseOwner: null, leaseUntil: null, updatedAt: dsql`now()` })
    .where(eq(sagaInstances.leaseOwner, core.workerId));
}
