// The processor of every step and compensation queue. The success path of a short action runs unclaimed and commits
// in one fenced statement; everything else (long steps, compensations, failures, cancellations) claims the saga under
// a row lock, runs, and commits outcome + next job in one transaction.
import { DelayedError, type Job } from 'bullmq';
import { and, eq, isNull, sql as dsql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { commitSuccess, plannedStates } from './commit-success.ts';
import { emitEvent, type EngineCore } from './core.ts';
import { readStoredSaga, type RunContext } from './run-context.ts';
import { CompensationFailed, isRollbackRequired, type Leftover } from './errors.ts';
import { resolveStore, type UndeclaredStoreError } from './store-registry.ts';
import { lockSaga } from './load-saga.ts';
import { storedLockKeys } from './lock-keys.ts';
import { isLongRunning } from './long-running.ts';
import type { Tx } from './db.ts';
import { jobIdOf, parseJobPayload, queueName, type JobPayload } from './queues.ts';
import { DEFAULT_ACTION_RETRY, DEFAULT_COMPENSATION_RETRY, backoffDelay } from './retry.ts';
import { runPhase, type PhaseOutcome } from './run-phase.ts';
import { sagaDeadLetters, sagaInstances, sagaOutbox } from './schema.ts';
import { isTerminal, pathToStepState, type SagaStatus } from './state-machine.ts';
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
  stagesOf,
  type LockedSaga,
  type TransitionResult,
} from './transitions.ts';
import type { JsonValue, SagaDefinition } from './types.ts';

// Steps run in place one after another re-check their saga's lock only when the last check is older than this. The
// lock lives at least ten minutes past the saga's deadline, so within a second only a lost Redis could have dropped
// it, and then the PostgreSQL live-lock index still refuses any second saga on the key; the next check re-takes it.
const LOCK_RECHECK_MS = 1000;

type Claim =
  | { kind: 'run'; attempt: number; input: JsonValue; outputs: Record<string, JsonValue | undefined>; deadlineAt: Date; sagaName: string; lockKeys: readonly string[] }
  | { kind: 'stale'; why: string }
  | { kind: 'busy'; until: Date }
  | { kind: 'dead'; reason: string }
  | { kind: 'transitioned'; result: TransitionResult; sagaId: string; lockKeys: readonly string[]; status: string; name: string };

/** A step run without a claim: the attempt it counts as and when it began (recorded only at commit). */
interface UnclaimedRun {
  attempt: number;
  startedAt: Date;
  jobId: string | null;
}

/** Handles one delivery. Duplicate and stale deliveries are no-ops; malformed ones are set aside. */
export async function handleJob(core: EngineCore, job: Job, token: string | undefined): Promise<void> {
  const parsed = parseJobPayload(job.data);
  if (!parsed.ok) return deadLetter(core, job, parsed.reason);
  const payload = parsed.payload;
  const log = core.logger.child({ sagaId: payload.sagaId, step: payload.step, phase: payload.phase, jobId: job.id });
  if (payload.phase === 'action') {
    const route = await routeUnclaimed(core, job, payload);
    switch (route.kind) {
      case 'dead':
        return deadLetter(core, job, route.reason);
      case 'stale':
        log.debug({ why: route.why }, 'stale or duplicate delivery ignored');
        return;
      case 'run':
        return runUnclaimed(core, job, payload, route.ctx, log);
      case 'claim':
        break;
    }
  }
  const claim = await claimJob(core, job, payload);
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
      await afterCommit(core, claim.result, claim.sagaId, claim.lockKeys, claim.name, claim.status);
      return;
    case 'run':
      break;
  }
  const def = core.defs.get(claim.sagaName)!;
  const step = def.steps[payload.step]!;
  const stepLog = log.child({ saga: def.name, step: step.name, attempt: claim.attempt });
  const outcome = await runLogged(core, payload, def, stepLog, { attempt: claim.attempt, input: claim.input, outputs: claim.outputs, deadlineAt: claim.deadlineAt, lockKeys: claim.lockKeys, lockChecked: false, leased: true });
  await commitOutcome(core, payload, def, outcome, stepLog, null);
}

type Route = { kind: 'run'; ctx: RunContext } | { kind: 'claim' } | { kind: 'stale'; why: string } | { kind: 'dead'; reason: string };

/**
 * Decides whether an action can run without a claim: a short step of a running saga at this dispatch, neither
 * cancelled nor overdue nor leased. The context comes from this process' cache (it dispatched the job) or one read.
 */
async function routeUnclaimed(core: EngineCore, job: Job, payload: JobPayload): Promise<Route> {
  let ctx = core.contexts.take(payload.sagaId, payload.seq);
  if (!ctx) {
    const stored = await readStoredSaga(core.sql, payload.sagaId);
    if (!stored) return { kind: 'dead', reason: `no saga with id ${payload.sagaId}` };
    const def = core.defs.get(stored.name);
    if (!def) return { kind: 'claim' };
    if (isTerminal(stored.state)) return { kind: 'stale', why: `saga is ${stored.state}` };
    if (stored.dispatchSeq !== payload.seq) return { kind: 'stale', why: `dispatch ${payload.seq} superseded by ${stored.dispatchSeq}` };
    if (stored.status !== 'running' || stored.currentPhase !== 'action' || stored.cancelRequested || stored.leaseLive) return { kind: 'claim' };
    const outputs: Record<string, JsonValue | undefined> = {};
    stored.steps.forEach((s, i) => {
      const name = def.steps[i]?.name;
      if (name && (s.status === 'succeeded' || s.output !== null)) outputs[name] = (s.output ?? undefined) as JsonValue | undefined;
    });
    ctx = { sagaName: stored.name, state: stored.state, input: stored.input, outputs, deadlineAt: stored.deadlineAt, lockKeys: stored.lockKeys, attempts: stored.steps[payload.step]?.attempts ?? 0 };
  }
  const def = core.defs.get(ctx.sagaName);
  const step = def?.steps[payload.step];
  // Anything unusual (unknown saga or step, wrong queue, a long step, a deadline) gets the locking path's checks.
  if (!def || !step || isLongRunning(step, ctx.input) || job.queueName !== queueName(def.name, step.name, 'action')) return { kind: 'claim' };
  if (ctx.deadlineAt.getTime() <= Date.now()) return { kind: 'claim' };
  try {
    plannedStates(def, payload.step, ctx.state, payload.sagaId);
  } catch {
    return { kind: 'claim' };
  }
  return { kind: 'run', ctx };
}

/**
 * Runs a short step unclaimed and commits its success in one statement; anything else takes the locking path. When the
 * next step is short too and this process consumes its queue, it runs here at once: its outbox row is committed all the
 * same (the relay delivers it if this process dies), so the hop through Redis is saved, not the durability.
 */
async function runUnclaimed(core: EngineCore, job: Job, first: JobPayload, firstCtx: RunContext, firstLog: Logger): Promise<void> {
  let payload = first;
  let ctx = firstCtx;
  let log = firstLog;
  let jobId: string | null = job.id ?? null;
  // A redelivery of this same job (its worker died) is another attempt: BullMQ counts the starts.
  let starts = Math.max(1, job.attemptsStarted ?? 1);
  let lockCheckedAt = Number.NEGATIVE_INFINITY;
  for (;;) {
    const def = core.defs.get(ctx.sagaName)!;
    const step = def.steps[payload.step]!;
    const attempt = ctx.attempts + starts;
    const stepLog = log.child({ saga: def.name, step: step.name, attempt });
    const startedAt = new Date();
    const lockChecked = startedAt.getTime() - lockCheckedAt < LOCK_RECHECK_MS;
    const outcome = await runLogged(core, payload, def, stepLog, { attempt, input: ctx.input, outputs: ctx.outputs, deadlineAt: ctx.deadlineAt, lockKeys: ctx.lockKeys, lockChecked, leased: false });
    if (outcome.kind === 'ok' && !lockChecked) lockCheckedAt = startedAt.getTime();
    if (outcome.kind !== 'ok') return commitOutcome(core, payload, def, outcome, stepLog, { attempt, startedAt, jobId });
    const output = outcome.output === null ? null : (JSON.parse(JSON.stringify(outcome.output)) as JsonValue);
    const state = plannedStates(def, payload.step, ctx.state, payload.sagaId).after.at(-1) ?? ctx.state;
    const runNextHere = canRunHere(core, def, payload.step + 1, state, ctx, payload.sagaId);
    const done = await commitSuccess(core.sql, { def, sagaId: payload.sagaId, seq: payload.seq, index: payload.step, attempt, fromState: ctx.state, output, startedAt, workerId: core.workerId, jobId: jobId ?? undefined, runNextHere });
    if (!done) return commitOutcome(core, payload, def, outcome, stepLog, { attempt, startedAt, jobId });
    if (done.ended) return sagaEnded(core, payload.sagaId, ctx.lockKeys, def.name, 'completed');
    const next = done.next!;
    const nextCtx: RunContext = { ...ctx, state: done.state, outputs: { ...ctx.outputs, [step.name]: output ?? undefined }, attempts: 0 };
    if (!runNextHere) {
      core.contexts.put(payload.sagaId, next.payload.seq, nextCtx);
      return core.dispatcher.enqueue({ ...next, sagaId: payload.sagaId });
    }
    payload = next.payload;
    ctx = nextCtx;
    jobId = next.jobId;
    starts = 1;
    log = core.logger.child({ sagaId: payload.sagaId, step: payload.step, phase: payload.phase, jobId });
  }
}

/** True when step `index` may run in this process right after the one before it. */
function canRunHere(core: EngineCore, def: SagaDefinition, index: number, state: string, ctx: Pick<RunContext, 'input' | 'deadlineAt'>, sagaId: string): boolean {
  const step = def.steps[index];
  if (!step || isLongRunning(step, ctx.input) || core.shutdown.signal.aborted || ctx.deadlineAt.getTime() <= Date.now()) return false;
  if (!core.consumed.has(queueName(def.name, step.name, 'action'))) return false;
  try {
    plannedStates(def, index, state, sagaId);
    return true;
  } catch {
    return false;
  }
}

/** Runs the phase with its log lines and the engine's 'step' event. */
async function runLogged(
  core: EngineCore,
  payload: JobPayload,
  def: SagaDefinition,
  stepLog: Logger,
  run: { attempt: number; input: JsonValue; outputs: Record<string, JsonValue | undefined>; deadlineAt: Date; lockKeys: readonly string[]; lockChecked: boolean; leased: boolean },
): Promise<PhaseOutcome> {
  const step = def.steps[payload.step]!;
  const started = Date.now();
  // A step's start and success are debug lines: at info they were most of a worker's log volume and a tenth of its
  // CPU (two writes a step); operators follow progress through the status body and metrics, and see every failure.
  if (stepLog.isLevelEnabled('debug')) stepLog.debug(`${payload.phase} started`);
  const outcome = await runPhase(core, { payload, sagaName: def.name, step, log: stepLog, ...run });
  const durationMs = Date.now() - started;
  if (outcome.kind === 'ok') {
    if (stepLog.isLevelEnabled('debug')) stepLog.debug({ durationMs, outcome: outcome.kind }, `${payload.phase} succeeded`);
  } else {
    const summary = outcome.kind === 'aborted' ? `aborted (${outcome.cause})` : `failed: ${outcome.error.message}`;
    stepLog.warn({ durationMs, outcome: outcome.kind, ...(outcome.kind === 'error' ? { err: outcome.error } : {}) }, `${payload.phase} ${summary}`);
  }
  emitEvent(core, 'step', { sagaName: def.name, step: step.name, phase: payload.phase, outcome: outcome.kind, durationMs });
  return outcome;
}

/**
 * The general commit: lock the saga, check this job still owns it, record the outcome and the next transition. An
 * unclaimed run records here what its claim would have (state, attempt, `step_started`) before its outcome.
 */
async function commitOutcome(core: EngineCore, payload: JobPayload, def: SagaDefinition, outcome: PhaseOutcome, stepLog: Logger, unclaimed: UnclaimedRun | null): Promise<void> {
  const step = def.steps[payload.step]!;
  const committed = await core.db.transaction(async (tx) => {
    const ls = await lockSaga(tx, payload.sagaId, core.defs, core.logger);
    const owned =
      ls !== null &&
      ls.saga.dispatchSeq === payload.seq &&
      (unclaimed
        ? !isTerminal(ls.saga.state) && ls.saga.currentPhase === 'action' && !(ls.saga.leaseUntil && ls.saga.leaseUntil > new Date() && ls.saga.leaseOwner !== core.workerId)
        : ls.saga.leaseOwner === core.workerId);
    if (!ls || !owned) {
      stepLog.warn('lost this step to another worker before committing; outcome discarded');
      return null;
    }
    if (unclaimed) {
      await markDelivered(tx, payload);
      await moveState(ls, pathToStepState(stagesOf(ls.def), ls.saga.state, step.state ?? 'processing', ls.saga.id));
      await saveStep(ls, payload.step, { status: 'running', attempts: unclaimed.attempt, startedAt: unclaimed.startedAt });
      await recordEvent(tx, ls.saga.id, 'step_started', { step: step.name, phase: 'action', attempt: unclaimed.attempt, data: { worker: core.workerId, jobId: unclaimed.jobId } });
    }
    const result = payload.phase === 'action' ? await commitAction(ls, payload.step, outcome) : await commitCompensation(ls, payload.step, outcome);
    return result ? { result, lockKeys: storedLockKeys(ls.saga), status: ls.saga.status } : null;
  });
  if (committed) await afterCommit(core, committed.result, payload.sagaId, committed.lockKeys, def.name, committed.status);
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
    if (isTerminal(saga.state)) return { kind: 'stale', why: `saga is ${saga.state}` };
    if (saga.dispatchSeq !== payload.seq) return { kind: 'stale', why: `dispatch ${payload.seq} superseded by ${saga.dispatchSeq}` };
    const now = new Date();
    if (saga.leaseOwner && saga.leaseOwner !== core.workerId && saga.leaseUntil && saga.leaseUntil > now) {
      return { kind: 'busy', until: saga.leaseUntil };
    }
    await markDelivered(tx, payload);
    const base = { sagaId: saga.id, lockKeys: storedLockKeys(saga), name: ls.def.name };
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
      await moveState(ls, pathToStepState(stagesOf(ls.def), saga.state, step.state ?? 'processing', saga.id));
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
    return { kind: 'run', attempt, input: saga.input as JsonValue, outputs, deadlineAt: saga.deadlineAt, sagaName: ls.def.name, lockKeys: storedLockKeys(saga) };
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
  const named: Leftover[] =
    error instanceof CompensationFailed || error.name === 'CompensationFailed'
      ? (error as CompensationFailed).leftovers
      : [{ store: step.name, key: ls.saga.id, error: message }];
  return giveUpCompensation(ls, index, message, named.map((l) => declaredOrFlagged(ls, l)));
}

// A leftover in a store the saga does not declare is still recorded (nothing is lost), but says so in its error and
// the log: no janitor can clean it until the saga declares the store.
function declaredOrFlagged(ls: LockedSaga, leftover: Leftover): Leftover {
  try {
    resolveStore(ls.def.name, ls.def.stores, leftover.store);
    return leftover;
  } catch (err) {
    const e = err as UndeclaredStoreError;
    ls.log.error({ sagaId: ls.saga.id, store: leftover.store, key: leftover.key, code: e.code }, e.message);
    return { ...leftover, error: `${e.code}: ${e.message}; ${leftover.error}` };
  }
}

async function afterCommit(core: EngineCore, result: TransitionResult, sagaId: string, lockKeys: readonly string[], name: string, status: string): Promise<void> {
  await core.dispatcher.dispatch(result.outbox);
  if (result.ended) await sagaEnded(core, sagaId, lockKeys, name, status);
}

async function sagaEnded(core: EngineCore, sagaId: string, lockKeys: readonly string[], name: string, status: string): Promise<void> {
  await core.locks.release(lockKeys, sagaId).catch((err: unknown) => core.logger.warn({ err, sagaId, lockKeys }, 'lock release failed; it expires on its own'));
  core.logger.info({ sagaId, saga: name, status }, `saga ended ${status}`);
  emitEvent(core, 'saga_ended', { sagaId, sagaName: name, status: status as SagaStatus });
}

/** The job is running, so its outbox row was delivered; the relay need not add it again. */
async function markDelivered(tx: Tx, payload: JobPayload): Promise<void> {
  await tx
    .update(sagaOutbox)
    .set({ dispatchedAt: new Date() })
    .where(and(eq(sagaOutbox.jobId, jobIdOf(payload.sagaId, payload.seq)), isNull(sagaOutbox.dispatchedAt)));
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
