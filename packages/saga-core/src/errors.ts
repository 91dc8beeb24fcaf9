// The engine's errors: one base class with a machine-readable `code`, checked by `name`/`code` so that the
// decision survives serialization (a job's stored error, a log line) and module duplication.

/** Base of every saga-core error: a stable `code` plus the ids needed to act on it. */
export class SagaError extends Error {
  readonly code: string;
  readonly sagaId: string | undefined;
  readonly step: string | undefined;

  constructor(code: string, message: string, ids: { sagaId?: string; step?: string; cause?: unknown } = {}) {
    super(message, ids.cause === undefined ? undefined : { cause: ids.cause });
    this.name = new.target.name;
    this.code = code;
    this.sagaId = ids.sagaId;
    this.step = ids.step;
  }
}

/** Fatal: the saga must roll back now, without the remaining retries. `reason` is machine-readable. */
export class SagaRollbackRequired extends SagaError {
  readonly reason: string;
  readonly details: Record<string, unknown>;

  constructor(reason: string, message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(reason, message, { cause });
    this.reason = reason;
    this.details = details;
  }
}

/** One thing a compensation could not undo: the store (one its saga declares), the exact key, and why. */
export interface Leftover<S extends string = string> {
  store: S;
  key: string;
  error: string;
  details?: Record<string, unknown>;
}

/**
 * Thrown by a compensation that undid only part of its step: each leftover becomes a `failed_cleanups` row.
 * `S` is the saga's store names (`CompensationFailed<StoreName<typeof stores>>`), so an undeclared store is a type error.
 */
export class CompensationFailed<S extends string = string> extends SagaError {
  readonly leftovers: Leftover<S>[];

  constructor(message: string, leftovers: Leftover<S>[], cause?: unknown) {
    super('COMPENSATION_FAILED', message, { cause });
    this.leftovers = leftovers;
  }
}

/** A saga definition that cannot run (duplicate step names, missing handler, bad retry policy, ...). */
export class SagaDefinitionError extends SagaError {
  constructor(sagaName: string, problems: string[]) {
    super('INVALID_SAGA_DEFINITION', `saga "${sagaName}" is invalid: ${problems.join('; ')}`);
  }
}

/** Another saga holds the lock of this resource (a saga's exclusivity key). */
export class SagaLockedError extends SagaError {
  readonly lockKey: string;
  readonly holderSagaId: string;

  constructor(lockKey: string, holderSagaId: string) {
    super('LOCKED', `"${lockKey}" is locked by saga ${holderSagaId}`, { sagaId: holderSagaId });
    this.lockKey = lockKey;
    this.holderSagaId = holderSagaId;
  }
}

/** A state change the state machine does not allow; never applied. */
export class IllegalTransitionError extends SagaError {
  readonly from: string;
  readonly to: string;

  constructor(from: string, to: string, sagaId?: string) {
    super('ILLEGAL_TRANSITION', `illegal saga transition ${from} -> ${to}`, sagaId === undefined ? {} : { sagaId });
    this.from = from;
    this.to = to;
  }
}

/** No saga with this id. */
export class SagaNotFoundError extends SagaError {
  constructor(sagaId: string) {
    super('SAGA_NOT_FOUND', `saga ${sagaId} does not exist`, { sagaId });
  }
}

/** The engine does not know a saga of this name. */
export class UnknownSagaError extends SagaError {
  constructor(name: string) {
    super('UNKNOWN_SAGA', `no saga named "${name}" is registered`);
  }
}

/** A step attempt ran past its own timeout (retryable). */
export class StepTimeoutError extends SagaError {
  constructor(step: string, timeoutMs: number, sagaId: string) {
    super('STEP_TIMEOUT', `step "${step}" did not finish within ${timeoutMs} ms`, { sagaId, step });
  }
}

/** Invalid input to a saga-core function (bad options, bad input). */
export class SagaInputError extends SagaError {
  constructor(message: string) {
    super('INVALID_INPUT', message);
  }
}

/** True when `err` demands an immediate rollback; checks by name so serialized errors still count. */
export function isRollbackRequired(err: unknown): err is SagaRollbackRequired {
  return err instanceof Error && err.name === 'SagaRollbackRequired';
}

/** Coerces any thrown value into an Error, so that logging and recording never throw themselves. */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : JSON.stringify(value));
}

/** `code` of an error when it has one, else its name. */
export function errorCode(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return toError(err).name;
}
