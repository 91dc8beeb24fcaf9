// Glossary of the engine's public types.
//
// saga         one run of a saga definition for one input; its state lives in PostgreSQL.
// step         one ordered unit of a saga: an action, an optional compensation, a retry policy, a timeout.
// phase        `action` (doing a step) or `compensation` (undoing it); each step+phase has its own BullMQ queue.
// compensation the undo of a step's effect; compensations run in reverse order (LIFO), best effort.
// outbox       rows committed with a transition naming the job to enqueue next; a relay delivers what was missed.
// leftover     what a compensation could not undo (store, key, error): a `failed_cleanups` row the janitor retries.
import type { Logger } from 'pino';
import type { SagaState, SagaStatus, StageMachine, StepState } from './state-machine.ts';
import type { StoreRegistry } from './store-registry.ts';

import type { JsonObject, JsonValue } from './json.ts';

export type { JsonObject, JsonValue } from './json.ts';

/** Outputs of a saga's steps by step name. A definition may name each step's output type; the default is untyped JSON. */
export type StepOutputs = { [step: string]: JsonValue };

/** How a step (or its compensation) is retried. */
export interface RetryPolicy {
  /** Total attempts, the first included. Default 3 (actions), 5 (compensations). */
  attempts: number;
  /** Delay before the 2nd attempt. Default 1000 ms. */
  backoffMs: number;
  /** `exponential` doubles the delay each attempt (capped by maxBackoffMs, jittered ±20%); `fixed` keeps it. Default exponential. */
  backoff?: 'fixed' | 'exponential';
  /** Cap for exponential backoff. Default 60 000 ms. */
  maxBackoffMs?: number;
}

/** What a step action or compensation receives. */
export interface StepContext<Input = unknown, Outputs extends StepOutputs = StepOutputs> {
  sagaId: string;
  sagaName: string;
  step: string;
  phase: 'action' | 'compensation';
  /** 1-based attempt of this phase of this step. */
  attempt: number;
  input: Input;
  /** Outputs of the steps that succeeded, by step name. */
  outputs: Readonly<Partial<Outputs>>;
  /** Aborted on cancellation, saga deadline, step timeout, or worker shutdown; check it between units of work. */
  signal: AbortSignal;
  deadlineAt: Date;
  /** A child logger carrying sagaId, step, phase, attempt and jobId. */
  log: Logger;
  /** Persists progress on the saga (throttled), and proves the worker is alive. */
  reportProgress(progress: JsonObject): Promise<void>;
  /**
   * Frees the saga's exclusivity keys (all of them) before the saga ends (a compensation that undid the last use of
   * the resources); the engine frees them at the end anyway. No-op for a saga without one.
   */
  releaseExclusivity(): Promise<void>;
}

/** A decision from a saga's input; method-typed (bivariant) like actions, so a definition still widens to `SagaDefinition`. */
export type InputRule<Input> = { rule(input: Input): boolean }['rule'];

/** One step of a saga; `Name` ties its action's result to its entry in `Outputs`. */
export interface StepDefinition<Input = unknown, Outputs extends StepOutputs = StepOutputs, Name extends keyof Outputs & string = keyof Outputs & string> {
  /** Unique within the saga; part of queue names, so no ':' . */
  name: Name;
  /** Does the step; must be idempotent (it may run again after a crash). Returns the step's output. */
  action(ctx: StepContext<Input, Outputs>): Promise<Outputs[Name] | void>;
  /** Undoes the step; must be idempotent. Throw CompensationFailed to name exact leftovers. */
  compensation?(ctx: StepContext<Input, Outputs>): Promise<void>;
  /** Default { attempts: 3, backoffMs: 1000, backoff: 'exponential' }. */
  retry?: RetryPolicy;
  /** Default { attempts: 5, backoffMs: 1000, backoff: 'exponential' }. */
  compensationRetry?: RetryPolicy;
  /** Per-attempt timeout. Default 300 000 ms. */
  timeoutMs?: number;
  /** Also run this step's compensation when the step itself failed (its effect may be partial). Default false. */
  compensateOnFailure?: boolean;
  /** The label the saga is in while this step runs, one of its definition's stages. Default `processing`. */
  state?: StepState;
  /**
   * A step that may run for minutes: it is claimed under a lease before it runs (renewed by heartbeats, so a killed
   * worker's step is taken over when the lease runs out, and no second worker starts it meanwhile). Other steps run
   * unclaimed, fenced by their dispatch number when they commit, and cost one statement on success. Default false.
   * A function decides per saga from its input (an upload is long only when the file is large).
   */
  longRunning?: boolean | InputRule<Input>;
  /**
   * Most deliveries of this step's action queue one worker process runs at once, instead of the worker's
   * concurrency: a bound for a step that holds much memory while it runs (the chunk buffers of a long upload). A short
   * step run in place right after its predecessor is not a delivery of its queue and is not counted; a long-running
   * step never runs in place, so for it the bound is exact.
   */
  concurrency?: number;
}

/** Any step of a saga whose outputs are `Outputs`, its action's result checked against its own name's output. */
export type SagaStep<Input = unknown, Outputs extends StepOutputs = StepOutputs> = { [K in keyof Outputs & string]: StepDefinition<Input, Outputs, K> }[keyof Outputs & string];

/** A saga definition: a name and ordered steps; `Stores` names the stores its leftovers may name. */
export interface SagaDefinition<Input = unknown, Outputs extends StepOutputs = StepOutputs, Stores extends string = string> {
  /** Unique per engine; part of queue names, so no ':' . */
  name: string;
  steps: SagaStep<Input, Outputs>[];
  /**
   * The resources this saga must hold alone: one key or several (a second live saga sharing any key is refused with
   * SagaLockedError). The engine takes them all at start, checks them all before each action and releases them all
   * when the saga ends. The first is the primary: PostgreSQL's live-lock index backs it even if Redis loses its lock.
   */
  exclusivityKey?(input: Input): string | readonly string[] | null;
  /** Validates and normalises input at start; throw SagaInputError with what is wrong. */
  parseInput?(input: unknown): Input;
  /** Default deadline of one saga. Default 3600 s. */
  timeoutSeconds?: number;
  /** The saga's own state labels and which may follow which; default the engine's (initialized, processing, ...). */
  stages?: StageMachine;
  /**
   * Every store a compensation may leave something in, by name: its undo (the janitor's retry) and its existence
   * check (a consistency checker). A compensation that throws something other than CompensationFailed is recorded
   * under its step's name, keyed by saga id: declare the step's name too for such steps.
   */
  stores?: StoreRegistry<Stores>;
}

/** A step as the API reports it. */
export interface StepView {
  index: number;
  name: string;
  phase: 'action' | 'compensation';
  status: StepStatus;
  attempts: number;
  compensationAttempts: number;
  output: JsonValue | null;
  error: string | null;
  compensationError: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** Status of one step. */
export type StepStatus =
  | 'pending'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'compensating'
  | 'compensated'
  | 'compensation_failed';

/** Why a saga is rolling back or rolled back. */
export interface SagaFailure {
  reason: string;
  message: string;
  step: string | null;
}

/** A recorded leftover. */
export interface FailedCleanupView {
  id: number;
  step: string;
  store: string;
  key: string;
  error: string;
  attempts: number;
  resolvedAt: Date | null;
}

/** A saga as the API reports it. */
export interface SagaView {
  id: string;
  name: string;
  state: SagaState;
  status: SagaStatus;
  input: JsonValue;
  failure: SagaFailure | null;
  progress: JsonObject | null;
  idempotencyKey: string | null;
  /** The primary exclusivity key (the first declared), or null. */
  lockKey: string | null;
  /** Every exclusivity key the saga holds while live, primary first. */
  lockKeys: string[];
  deadlineAt: Date;
  cancelRequestedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
  steps: StepView[];
  /** One line per step that failed (`step: message`). */
  errors: string[];
  /** One line per compensation that failed for good. */
  compensationErrors: string[];
  failedCleanups: FailedCleanupView[];
}

/** One row of a saga's append-only audit trail. */
export interface SagaEventView {
  id: number;
  type: string;
  step: string | null;
  phase: 'action' | 'compensation' | null;
  attempt: number | null;
  fromState: string | null;
  toState: string | null;
  data: JsonValue | null;
  at: Date;
}

/** The engine's events (SagaEngine.on) and what each carries. */
export interface SagaEngineEvents {
  /** A step's action or compensation finished in this process. */
  step: { sagaName: string; step: string; phase: 'action' | 'compensation'; outcome: 'ok' | 'error' | 'aborted'; durationMs: number };
  /** A saga reached its final status in this process. */
  saga_ended: { sagaId: string; sagaName: string; status: SagaStatus };
}

/** Counts read from PostgreSQL. */
export interface SagaStats {
  active: number;
  completed: number;
  compensated: number;
  compensationFailed: number;
  failed: number;
  /** completed / finished, in percent; 100 when nothing finished. */
  successRate: number;
  pendingCleanups: number;
}
