// A breaker in front of one downstream PostgreSQL store: transient failures count and become retryable, query errors pass through.
import type { Logger } from 'pino';
import { classifyDatabaseError } from './classify-error.ts';
import { type BreakerOptions, createCallGuard } from './call-guard.ts';

/** Options shared by the downstream stores' factories. */
export interface DatabaseStoreOptions {
  /** Breaker tuning for this store's database; see BreakerOptions for defaults. */
  breaker?: BreakerOptions;
  /** Logger for breaker state changes. Default: silent. */
  logger?: Logger;
}

/** Runs a store's database calls through its breaker. */
export interface DatabaseGuard {
  /** Runs `call`; connection loss and overload come out as retryable STORAGE_UNAVAILABLE, an open breaker as CIRCUIT_OPEN. */
  run<T>(what: string, call: () => Promise<T>, documentId?: string): Promise<T>;
}

/** Creates the guard of the store called `name` (e.g. 'vector'). */
export function createDatabaseGuard(name: string, options: DatabaseStoreOptions = {}): DatabaseGuard {
  const guard = createCallGuard({
    name: `postgres:${name}`,
    // postgres.js takes no AbortSignal: deadlines belong to the server (statement_timeout), whose cancellations are class 57, transient.
    callTimeoutMs: 2_147_483_647,
    ...(options.breaker === undefined ? {} : { breaker: options.breaker }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    classify: classifyDatabaseError,
  });
  return {
    run: (what, call, documentId) => guard.run(what, () => call(), documentId === undefined ? {} : { documentId }),
  };
}
