// The engine's states and the stage machine a saga definition may declare for its own labels.
//
// The engine itself knows a saga as running, compensating or ended (its status), and uses six labels for its state:
// initialized, processing (steps running), completed, rolling_back, rolled_back, rollback_failed. A definition may
// declare finer labels for its steps (`StepDefinition.state`) and which may follow which: a `StageMachine`. Its table
// must contain the engine's labels, so that every saga can start, complete and roll back.
import { IllegalTransitionError } from './errors.ts';

/** A saga's state: one of the engine's labels or one its definition declares. */
export type SagaState = string;
/** A label a step runs under (default `processing`). */
export type StepState = string;

/** Coarse status, what the API reports. `failed`: rolled back with nothing to undo (no step had taken effect). */
export type SagaStatus = 'running' | 'compensating' | 'completed' | 'compensated' | 'compensation_failed' | 'failed';

/** The labels the engine itself moves a saga through. */
export const ENGINE_STATES = {
  initial: 'initialized',
  running: 'processing',
  completed: 'completed',
  rollingBack: 'rolling_back',
  rolledBack: 'rolled_back',
  rollbackFailed: 'rollback_failed',
} as const;

/** A definition's own labels: which may follow which, and the detours the engine asks for at retries, pauses and failures. */
export interface StageMachine {
  /** Allowed successors of every label, the engine's included. */
  allowed: Readonly<Record<string, readonly string[]>>;
  /** Labels between `from` and a step's label `to` when it is not one hop (e.g. through a resuming label). */
  via?(from: string, to: string): readonly string[] | undefined;
  /** Label while a failed step in `from` waits for its retry; undefined keeps `from`. */
  retrying?(from: string): string | undefined;
  /** Label while a step in `from`, handed back by a stopping worker, waits; undefined keeps `from`. */
  paused?(from: string): string | undefined;
  /** Label recorded before rolling_back when the step running in `from` failed; undefined goes straight to rolling_back. */
  failed?(from: string): string | undefined;
}

/** The engine's machine, used by definitions that declare none. */
export const DEFAULT_STAGES: StageMachine = {
  allowed: {
    initialized: ['processing', 'rolling_back'],
    processing: ['completed', 'rolling_back'],
    completed: [],
    rolling_back: ['rolled_back', 'rollback_failed'],
    rolled_back: [],
    rollback_failed: [],
  },
};

const TERMINAL: readonly string[] = [ENGINE_STATES.completed, ENGINE_STATES.rolledBack, ENGINE_STATES.rollbackFailed];

/** True when `from -> to` is allowed by `machine`. */
export function canTransition(from: SagaState, to: SagaState, machine: StageMachine = DEFAULT_STAGES): boolean {
  return machine.allowed[from]?.includes(to) ?? false;
}

/** Throws IllegalTransitionError unless `from -> to` is allowed. */
export function assertTransition(from: SagaState, to: SagaState, sagaId?: string, machine: StageMachine = DEFAULT_STAGES): void {
  if (!canTransition(from, to, machine)) throw new IllegalTransitionError(from, to, sagaId);
}

/** True for states a saga never leaves. */
export function isTerminal(state: SagaState): boolean {
  return TERMINAL.includes(state);
}

/** The path of labels from `from` to a step's label `to`, each hop allowed; [] when already there. */
export function pathToStepState(machine: StageMachine, from: SagaState, to: StepState, sagaId?: string): SagaState[] {
  if (from === to) return [];
  const via = machine.via?.(from, to);
  if (via) return [...via];
  assertTransition(from, to, sagaId, machine);
  return [to];
}

/** The labels on the way from `from` into rolling_back. */
export function pathToRollback(machine: StageMachine, from: SagaState, sagaId?: string): SagaState[] {
  if (from === ENGINE_STATES.rollingBack) return [];
  const failed = machine.failed?.(from);
  if (failed) return [failed, ENGINE_STATES.rollingBack];
  assertTransition(from, ENGINE_STATES.rollingBack, sagaId, machine);
  return [ENGINE_STATES.rollingBack];
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
    case ENGINE_STATES.completed:
      return 'completed';
    case ENGINE_STATES.rollingBack:
      return 'compensating';
    case ENGINE_STATES.rolledBack:
      return hadEffects ? 'compensated' : 'failed';
    case ENGINE_STATES.rollbackFailed:
      return 'compensation_failed';
    default:
      return 'running';
  }
}
