// The saga state machine of the design (seeds/001): fine-grained states, allowed transitions, coarse status.
import { IllegalTransitionError } from './errors.ts';

/** Fine-grained saga states. */
export const SAGA_STATES = [
  'initialized',
  'uploading',
  'upload_paused',
  'upload_failed',
  'resuming',
  'resume_failed',
  'verifying',
  'verify_failed',
  'processing',
  'completed',
  'rolling_back',
  'rolled_back',
  'rollback_failed',
] as const;
export type SagaState = (typeof SAGA_STATES)[number];

/** Coarse status, what the API reports. `failed`: rolled back with nothing to undo (no step had taken effect). */
export type SagaStatus = 'running' | 'compensating' | 'completed' | 'compensated' | 'compensation_failed' | 'failed';

/** The states a step may run in (a step declares one; default `processing`). */
export type StepState = 'initialized' | 'uploading' | 'verifying' | 'processing';

// seeds/001's table, plus initialized -> processing so that a saga without an upload phase can run.
const ALLOWED: Record<SagaState, readonly SagaState[]> = {
  initialized: ['uploading', 'processing', 'rolling_back'],
  uploading: ['upload_paused', 'upload_failed', 'verifying', 'rolling_back'],
  upload_paused: ['resuming', 'rolling_back'],
  upload_failed: ['resuming', 'rolling_back'],
  resuming: ['uploading', 'resume_failed', 'rolling_back'],
  resume_failed: ['resuming', 'rolling_back'],
  verifying: ['verify_failed', 'processing', 'rolling_back'],
  verify_failed: ['rolling_back'],
  processing: ['completed', 'rolling_back'],
  completed: [],
  rolling_back: ['rolled_back', 'rollback_failed'],
  rolled_back: [],
  rollback_failed: [],
};

/** True when `from -> to` is allowed. */
export function canTransition(from: SagaState, to: SagaState): boolean {
  return ALLOWED[from].includes(to);
}

/** Throws IllegalTransitionError unless `from -> to` is allowed. */
export function assertTransition(from: SagaState, to: SagaState, sagaId?: string): void {
  if (!canTransition(from, to)) throw new IllegalTransitionError(from, to, sagaId);
}

/** True for states a saga never leaves. */
export function isTerminal(state: SagaState): boolean {
  return ALLOWED[state].length === 0;
}

/** True when `value` names a state. */
export function isSagaState(value: string): value is SagaState {
  return (SAGA_STATES as readonly string[]).includes(value);
}

/**
 * The path of states from `from` to a step's state `to`, each hop allowed; [] when already there.
 * A retried upload goes upload_failed -> resuming -> uploading; a paused one upload_paused -> resuming -> uploading.
 */
export function pathToStepState(from: SagaState, to: StepState, sagaId?: string): SagaState[] {
  if (from === to) return [];
  if (to === 'uploading' && (from === 'upload_failed' || from === 'upload_paused' || from === 'resume_failed')) {
    return ['resuming', 'uploading'];
  }
  assertTransition(from, to, sagaId);
  return [to];
}

/** The states on the way from `from` into rolling_back (a failed verification is recorded as verify_failed first). */
export function pathToRollback(from: SagaState, failedInVerification: boolean, sagaId?: string): SagaState[] {
  if (from === 'rolling_back') return [];
  if (failedInVerification && from === 'verifying') return ['verify_failed', 'rolling_back'];
  assertTransition(from, 'rolling_back', sagaId);
  return ['rolling_back'];
}

/** Statuses of a saga still in progress (holding its lock, not yet ended). */
export const LIVE_STATUSES: readonly SagaStatus[] = ['running', 'compensating'];

/** True for a status of a saga still in progress. */
export function isLiveStatus(status: string): boolean {
  return (LIVE_STATUSES as readonly string[]).includes(status);
}

/** The coarse status of a state. `hadEffects` distinguishes compensated from failed when rolled back. */
export function statusOf(state: SagaState, hadEffects = true): SagaStatus {
  switch (state) {
    case 'completed':
      return 'completed';
    case 'rolling_back':
      return 'compensating';
    case 'rolled_back':
      return hadEffects ? 'compensated' : 'failed';
    case 'rollback_failed':
      return 'compensation_failed';
    default:
      return 'running';
  }
}
