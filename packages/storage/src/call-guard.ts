// Wraps every call to an external store in an opossum circuit breaker and a per-call deadline (DESIGN §3).
import CircuitBreaker from 'opossum';
import type { Logger } from 'pino';
import { StorageError, type StorageErrorDetails, isRetryableStorageError } from './errors.ts';
import { toStorageError } from './classify-error.ts';
import { intOption } from './options.ts';

/** Tuning of the circuit breaker in front of a store. */
export interface BreakerOptions {
  /** Share of failed calls (percent) in the rolling window that opens the breaker. Default 50. */
  errorThresholdPercentage?: number;
  /** How long an open breaker refuses calls before letting a trial call through. Default 10 000 ms. */
  resetTimeoutMs?: number;
  /** Calls needed in the window before the breaker may open at all. Default 10. */
  volumeThreshold?: number;
  /** Length of the rolling statistics window. Default 10 000 ms. */
  rollingWindowMs?: number;
}

/** Options of createCallGuard. */
export interface CallGuardOptions {
  /** Names the breaker in logs and errors. */
  name: string;
  /** A single call (including any retries inside it) not settled after this long is aborted and fails as TIMEOUT. Default 60 000 ms. */
  callTimeoutMs?: number;
  /** Breaker tuning; see BreakerOptions for defaults. */
  breaker?: BreakerOptions;
  /** Receives breaker state changes. Default: silent. */
  logger?: Logger;
  /** Turns what a failed call threw into the error to rethrow. Default: toStorageError (S3 and network errors). */
  classify?: (err: unknown, what: string, details: Omit<StorageErrorDetails, 'cause'>) => unknown;
}

/** Per-call options: the caller's signal (cancellation) and ids for the error. */
export interface GuardedCallOptions extends Omit<StorageErrorDetails, 'cause'> {
  signal?: AbortSignal;
}

/** Runs calls through one breaker; errors come out as StorageErrors. */
export interface CallGuard {
  /** Runs `call` with an AbortSignal that fires on the deadline or on the caller's signal. */
  run<T>(what: string, call: (signal: AbortSignal) => Promise<T>, options?: GuardedCallOptions): Promise<T>;
  /** The breaker's state, for health checks. */
  state(): 'closed' | 'open' | 'half-open';
  /** Stops the breaker's timers. */
  shutdown(): void;
}

/** Creates a breaker-plus-deadline wrapper for one external store. */
export function createCallGuard(options: CallGuardOptions): CallGuard {
  const callTimeoutMs = intOption('callTimeoutMs', options.callTimeoutMs, 60_000, 1);
  const b = options.breaker ?? {};
  const breaker = new CircuitBreaker<[() => Promise<unknown>], unknown>((thunk) => thunk(), {
    name: options.name,
    // Deadlines are enforced by aborting the call itself (below), which opossum's timeout cannot do.
    timeout: false,
    errorThresholdPercentage: intOption('breaker.errorThresholdPercentage', b.errorThresholdPercentage, 50, 1, 100),
    resetTimeout: intOption('breaker.resetTimeoutMs', b.resetTimeoutMs, 10_000, 1),
    volumeThreshold: intOption('breaker.volumeThreshold', b.volumeThreshold, 10, 0),
    rollingCountTimeout: intOption('breaker.rollingWindowMs', b.rollingWindowMs, 10_000, 10),
    // Only infrastructure failures count against the store: a 404 or a checksum mismatch says nothing about its health.
    errorFilter: (err: unknown) => !isRetryableStorageError(err),
  });
  const logger = options.logger;
  const classify = options.classify ?? toStorageError;
  breaker.on('open', () => logger?.warn({ breaker: options.name }, 'circuit breaker opened'));
  breaker.on('halfOpen', () => logger?.info({ breaker: options.name }, 'circuit breaker half-open'));
  breaker.on('close', () => logger?.info({ breaker: options.name }, 'circuit breaker closed'));

  return {
    async run<T>(what: string, call: (signal: AbortSignal) => Promise<T>, callOptions: GuardedCallOptions = {}): Promise<T> {
      const { signal: callerSignal, ...details } = callOptions;
      if (callerSignal?.aborted) throw cancelled(what, callerSignal, details);
      const deadline = AbortSignal.timeout(callTimeoutMs);
      const signal = callerSignal ? AbortSignal.any([callerSignal, deadline]) : deadline;
      const attempt = async (): Promise<T> => {
        try {
          return await call(signal);
        } catch (err) {
          if (callerSignal?.aborted) throw cancelled(what, callerSignal, details);
          if (deadline.aborted) throw new StorageError('TIMEOUT', `${what}: no answer within ${callTimeoutMs} ms`, { ...details, cause: err });
          throw classify(err, what, details);
        }
      };
      try {
        // The thunk's type is erased by the breaker's single signature; it returns what `attempt` returns.
        return (await breaker.fire(attempt)) as T;
      } catch (err) {
        if (!(err instanceof StorageError) && (err as { code?: unknown }).code === 'EOPENBREAKER') {
          throw new StorageError('CIRCUIT_OPEN', `${what}: circuit breaker ${options.name} is open, failing fast`, { ...details, cause: err });
        }
        // Everything else already went through `classify` inside the breaker.
        throw err;
      }
    },
    state() {
      return breaker.opened ? 'open' : breaker.halfOpen ? 'half-open' : 'closed';
    },
    shutdown() {
      breaker.shutdown();
    },
  };
}

function cancelled(what: string, signal: AbortSignal, details: Omit<StorageErrorDetails, 'cause'>): StorageError {
  return new StorageError('CANCELLED', `${what}: cancelled`, { ...details, cause: signal.reason });
}
