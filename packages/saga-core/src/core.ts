// The engine's shared collaborators, passed to every internal function (no singletons).
import { EventEmitter } from 'node:events';
import type { RedisClient } from './redis-client.ts';
import type { Logger } from 'pino';
import type { Sql } from 'postgres';
import type { Db } from './db.ts';
import type { Dispatcher } from './dispatcher.ts';
import type { ResourceLocks } from './resource-lock.ts';
import type { RunContextCache } from './run-context.ts';
import type { SagaDefinition, SagaEngineEvents } from './types.ts';

/** Engine timings, resolved from SagaEngineOptions. */
export interface EngineTimings {
  leaseMs: number;
  progressIntervalMs: number;
  abortGraceMs: number;
  lockTtlMarginMs: number;
  defaultTimeoutSeconds: number;
}

/** Everything internal code needs. */
export interface EngineCore {
  sql: Sql;
  db: Db;
  redis: RedisClient;
  locks: ResourceLocks;
  dispatcher: Dispatcher;
  logger: Logger;
  defs: Map<string, SagaDefinition>;
  workerId: string;
  timings: EngineTimings;
  /** Queues this process' workers consume: a short step of one of them may run right after the step before it. */
  consumed: Set<string>;
  /** Contexts of the jobs this process dispatched, so that running them needs no read. */
  contexts: RunContextCache;
  events: EventEmitter;
  /** Aborted when the process drains: running steps hand their job back. */
  shutdown: AbortController;
}

/** Emits a typed engine event to this process' listeners. */
export function emitEvent<E extends keyof SagaEngineEvents>(core: EngineCore, event: E, payload: SagaEngineEvents[E]): void {
  core.events.emit(event, payload);
}
