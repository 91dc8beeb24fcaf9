// Every change of a saga's state, made inside one PostgreSQL transaction together with the outbox row of the
// job it implies. Functions here mutate the locked row copy `saga` and write through `tx`; the caller commits.
import { and, eq } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { InstanceRow, OutboxRow, StepRow, Tx } from './db.ts';
import { jobIdOf, queueName, type JobPayload, type Phase } from './queues.ts';
import { failedCleanups, sagaAlerts, sagaEvents, sagaInstances, sagaOutbox, sagaSteps } from './schema.ts';
import { DEFAULT_STAGES, assertTransition, pathToRollback, pathToStepState, statusOf, type SagaState, type StageMachine } from './state-machine.ts';
import type { Leftover } from './errors.ts';
import type { JsonValue, SagaDefinition, SagaFailure } from './types.ts';

/** What one transaction decided: jobs to enqueue after commit, and whether the saga just ended. */
export interface TransitionResult {
  outbox: OutboxRow[];
  ended: boolean;
}

/** A locked saga plus its steps and definition, as a transaction sees them. */
export interface LockedSaga {
  tx: Tx;
  saga: InstanceRow;
  steps: StepRow[];
  def: SagaDefinition;
  log: Logger;
}

/** The definition's stage machine, or the engine's. */
export function stagesOf(def: SagaDefinition): StageMachine {
  return def.stages ?? DEFAULT_STAGES;
}

/** Records an event row. */
export async function recordEvent(
  tx: Tx,
  sagaId: string,
  type: string,
  fields: { step?: string | null; phase?: Phase | null; attempt?: number | null; fromState?: string | null; toState?: string | null; data?: unknown } = {},
): Promise<void> {
  await tx.insert(sagaEvents).values({
    sagaId,
    type,
    step: fields.step ?? null,
    phase: fields.phase ?? null,
    attempt: fields.attempt ?? null,
    fromState: fields.fromState ?? null,
    toState: fields.toState ?? null,
    data: fields.data ?? null,
  });
}

/** Walks the saga through `path`, checking each hop against the state machine. */
export async function moveState(ls: LockedSaga, path: SagaState[]): Promise<void> {
  for (const to of path) {
    const from = ls.saga.state;
    assertTransition(from, to, ls.saga.id, stagesOf(ls.def));
    ls.saga.state = to;
    await recordEvent(ls.tx, ls.saga.id, 'state_changed', { fromState: from, toState: to });
  }
}

/** Persists the row copy (state, status, cursor, lease...). */
export async function saveSaga(ls: LockedSaga): Promise<void> {
  const s = ls.saga;
  s.updatedAt = new Date();
  await ls.tx
    .update(sagaInstances)
    .set({
      state: s.state,
      status: s.status,
      currentStep: s.currentStep,
      currentPhase: s.currentPhase,
      dispatchSeq: s.dispatchSeq,
      leaseOwner: s.leaseOwner,
      leaseUntil: s.leaseUntil,
      failure: s.failure,
      progress: s.progress,
      cancelRequestedAt: s.cancelRequestedAt,
      cancelReason: s.cancelReason,
      updatedAt: s.updatedAt,
      finishedAt: s.finishedAt,
    })
    .where(eq(sagaInstances.id, s.id));
}

/** Updates one step row (in memory and in the table). */
export async function saveStep(ls: LockedSaga, index: number, patch: Partial<StepRow>): Promise<void> {
  const row = ls.steps[index];
  if (!row) throw new Error(`saga ${ls.saga.id} has no step ${index}`);
  Object.assign(row, patch);
  await ls.tx
    .update(sagaSteps)
    .set(patch)
    .where(and(eq(sagaSteps.sagaId, ls.saga.id), eq(sagaSteps.stepIndex, index)));
}

/** Points the saga at (step, phase) under a new dispatch number and writes the outbox row of that job. */
export async function scheduleJob(ls: LockedSaga, step: number, phase: Phase, delayMs = 0): Promise<OutboxRow> {
  const s = ls.saga;
  const stepDef = ls.def.steps[step];
  if (!stepDef) throw new Error(`saga ${s.id} has no step ${step}`);
  s.dispatchSeq += 1;
  s.currentStep = step;
  s.currentPhase = phase;
  const payload: JobPayload = { sagaId: s.id, seq: s.dispatchSeq, step, phase };
  const [row] = await ls.tx
    .insert(sagaOutbox)
    .values({
      sagaId: s.id,
      queue: queueName(ls.def.name, stepDef.name, phase),
      jobId: jobIdOf(s.id, s.dispatchSeq),
      payload,
      availableAt: new Date(Date.now() + delayMs),
    })
    .returning();
  if (!row) throw new Error('outbox insert returned nothing');
  return row;
}

/** A step's action succeeded: record it, then schedule the next step or complete the saga. */
export async function completeAction(ls: LockedSaga, index: number, output: JsonValue | null): Promise<TransitionResult> {
  const step = ls.def.steps[index]!;
  await saveStep(ls, index, { status: 'succeeded', output, error: null, finishedAt: new Date() });
  await recordEvent(ls.tx, ls.saga.id, 'step_succeeded', { step: step.name, phase: 'action', attempt: ls.steps[index]!.attempts });
  release(ls);
  const next = ls.def.steps[index + 1];
  if (next) {
    await moveState(ls, pathToStepState(stagesOf(ls.def), ls.saga.state, next.state ?? 'processing', ls.saga.id));
    const job = await scheduleJob(ls, index + 1, 'action');
    await saveSaga(ls);
    return { outbox: [job], ended: false };
  }
  await moveState(ls, ['completed']);
  ls.saga.status = statusOf('completed');
  ls.saga.finishedAt = new Date();
  await saveSaga(ls);
  await recordEvent(ls.tx, ls.saga.id, 'saga_completed');
  return { outbox: [], ended: true };
}

/** A retryable failure with attempts left: schedule the same step again after `delayMs`. */
export async function retryAction(ls: LockedSaga, index: number, error: string, delayMs: number): Promise<TransitionResult> {
  const step = ls.def.steps[index]!;
  await saveStep(ls, index, { status: 'failed', error });
  await recordEvent(ls.tx, ls.saga.id, 'step_retry_scheduled', { step: step.name, phase: 'action', attempt: ls.steps[index]!.attempts, data: { error, delayMs } });
  const waiting = stagesOf(ls.def).retrying?.(ls.saga.state);
  if (waiting) await moveState(ls, [waiting]);
  release(ls);
  const job = await scheduleJob(ls, index, 'action', delayMs);
  await saveSaga(ls);
  return { outbox: [job], ended: false };
}

/** The worker is shutting down mid-step: hand the step back without counting the attempt. */
export async function pauseAction(ls: LockedSaga, index: number): Promise<TransitionResult> {
  const step = ls.def.steps[index]!;
  await saveStep(ls, index, { status: 'pending', attempts: Math.max(0, ls.steps[index]!.attempts - 1) });
  await recordEvent(ls.tx, ls.saga.id, 'step_paused', { step: step.name, phase: 'action' });
  const paused = stagesOf(ls.def).paused?.(ls.saga.state);
  if (paused) await moveState(ls, [paused]);
  release(ls);
  const job = await scheduleJob(ls, index, 'action');
  await saveSaga(ls);
  return { outbox: [job], ended: false };
}

/** Starts compensation after step `failedIndex` failed (or the saga was cancelled / timed out before it). */
export async function beginRollback(ls: LockedSaga, failedIndex: number, failure: SagaFailure): Promise<TransitionResult> {
  const failedStep = ls.def.steps[failedIndex];
  const row = ls.steps[failedIndex];
  if (row && (row.status === 'running' || row.status === 'failed' || row.status === 'pending')) {
    if (row.status !== 'pending') await saveStep(ls, failedIndex, { status: 'failed', error: `${failure.reason}: ${failure.message}`, finishedAt: new Date() });
  }
  ls.saga.failure = failure;
  await moveState(ls, pathToRollback(stagesOf(ls.def), ls.saga.state, ls.saga.id));
  ls.saga.status = statusOf('rolling_back');
  await recordEvent(ls.tx, ls.saga.id, 'rollback_started', { step: failedStep?.name ?? null, data: failure });
  ls.log.warn({ reason: failure.reason, step: failure.step }, `rolling back: ${failure.message}`);
  release(ls);
  return continueRollback(ls, failedIndex + 1);
}

/** Schedules the next compensation below `belowIndex`, or ends the rollback when none is left. */
export async function continueRollback(ls: LockedSaga, belowIndex: number): Promise<TransitionResult> {
  for (let j = belowIndex - 1; j >= 0; j--) {
    const def = ls.def.steps[j]!;
    const row = ls.steps[j]!;
    if (!def.compensation) continue;
    const took = row.status === 'succeeded' || (def.compensateOnFailure === true && (row.status === 'failed' || row.status === 'running'));
    if (!took) continue;
    const job = await scheduleJob(ls, j, 'compensation');
    await saveSaga(ls);
    return { outbox: [job], ended: false };
  }
  const failedComp = ls.steps.some((s) => s.status === 'compensation_failed');
  const hadEffects = ls.steps.some((s) => s.status === 'compensated' || s.status === 'compensation_failed');
  const end: SagaState = failedComp ? 'rollback_failed' : 'rolled_back';
  await moveState(ls, [end]);
  ls.saga.status = statusOf(end, hadEffects);
  ls.saga.finishedAt = new Date();
  await saveSaga(ls);
  await recordEvent(ls.tx, ls.saga.id, failedComp ? 'rollback_failed' : 'rollback_completed');
  if (failedComp) {
    await raiseAlert(ls, 'ROLLBACK_FAILED', `saga ${ls.saga.id} (${ls.def.name}) rolled back only partly; leftovers are in failed_cleanups`);
  }
  return { outbox: [], ended: true };
}

/** A compensation succeeded. */
export async function completeCompensation(ls: LockedSaga, index: number): Promise<TransitionResult> {
  await saveStep(ls, index, { status: 'compensated', compensationError: null, finishedAt: new Date() });
  await recordEvent(ls.tx, ls.saga.id, 'compensation_succeeded', { step: ls.def.steps[index]!.name, phase: 'compensation', attempt: ls.steps[index]!.compensationAttempts });
  release(ls);
  return continueRollback(ls, index);
}

/** A compensation failed with attempts left. */
export async function retryCompensation(ls: LockedSaga, index: number, error: string, delayMs: number): Promise<TransitionResult> {
  await saveStep(ls, index, { compensationError: error });
  await recordEvent(ls.tx, ls.saga.id, 'compensation_retry_scheduled', { step: ls.def.steps[index]!.name, phase: 'compensation', attempt: ls.steps[index]!.compensationAttempts, data: { error, delayMs } });
  release(ls);
  const job = await scheduleJob(ls, index, 'compensation', delayMs);
  await saveSaga(ls);
  return { outbox: [job], ended: false };
}

/** The worker is shutting down mid-compensation: hand it back without counting the attempt. */
export async function pauseCompensation(ls: LockedSaga, index: number): Promise<TransitionResult> {
  await saveStep(ls, index, { compensationAttempts: Math.max(0, ls.steps[index]!.compensationAttempts - 1) });
  release(ls);
  const job = await scheduleJob(ls, index, 'compensation');
  await saveSaga(ls);
  return { outbox: [job], ended: false };
}

/** A compensation failed for good: record every leftover, alert, and go on with the next compensation. */
export async function giveUpCompensation(ls: LockedSaga, index: number, error: string, leftovers: Leftover[]): Promise<TransitionResult> {
  const step = ls.def.steps[index]!;
  await saveStep(ls, index, { status: 'compensation_failed', compensationError: error, finishedAt: new Date() });
  for (const l of leftovers) {
    await ls.tx
      .insert(failedCleanups)
      .values({ sagaId: ls.saga.id, step: step.name, store: l.store, key: l.key, error: l.error, details: l.details ?? null })
      .onConflictDoUpdate({
        target: [failedCleanups.sagaId, failedCleanups.store, failedCleanups.key],
        set: { error: l.error, details: l.details ?? null, resolvedAt: null, nextAttemptAt: new Date() },
      });
  }
  await recordEvent(ls.tx, ls.saga.id, 'compensation_failed', { step: step.name, phase: 'compensation', attempt: ls.steps[index]!.compensationAttempts, data: { error, leftovers } });
  await raiseAlert(ls, 'COMPENSATION_FAILED', `compensation of step ${step.name} failed for good: ${error}`, { step: step.name, leftovers });
  release(ls);
  return continueRollback(ls, index);
}

/** An alert row, and the same at fatal level in the log. */
export async function raiseAlert(ls: LockedSaga, type: string, message: string, data: Record<string, unknown> = {}): Promise<void> {
  await ls.tx.insert(sagaAlerts).values({ sagaId: ls.saga.id, severity: 'critical', type, message, data });
  ls.log.fatal({ alert: type, ...data }, message);
}

function release(ls: LockedSaga): void {
  ls.saga.leaseOwner = null;
  ls.saga.leaseUntil = null;
}
