// The saga engine: starts sagas, runs step/compensation queues, answers state and stats, runs repairs.
import { EventEmitter } from 'node:events';
import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Worker, type ConnectionOptions } from 'bullmq';
import { handBack } from './hand-back.ts';
import { and, eq, inArray } from 'drizzle-orm';
import pino, { type Logger } from 'pino';
import type { Sql } from 'postgres';
import type { EngineCore } from './core.ts';
import { createDb, isUniqueViolation } from './db.ts';
import { createDispatcher } from './dispatcher.ts';
import { SagaInputError, SagaLockedError, UnknownSagaError, toError } from './errors.ts';
import { ensureLocks } from './exclusivity.ts';
import { normalizeLockKeys } from './lock-keys.ts';
import { createResourceLocks } from './resource-lock.ts';
import { createRedisClient, isHashTagged } from './redis-client.ts';
import { createRunContextCache } from './run-context.ts';
import { handleJob, releaseOwnLeases } from './handle-job.ts';
import { recoverLostJobs, releaseStaleLocks, retryFailedCleanups, rollBackOverdue, type CleanupPassResult, type RetryCleanupsOptions } from './maintenance.ts';
import { checkSagaCoreSchema, migrateSagaCore } from './migrate.ts';
import { pruneHistory, type PruneHistoryOptions, type PruneHistoryResult } from './prune-history.ts';
import { actionQueueBounds, jobIdOf, queueName, queuesOf, type JobPayload } from './queues.ts';
import { requestRollback, type RollbackRequestResult } from './request-rollback.ts';
import { sagaInstances } from './schema.ts';
import { readEvents, readSaga, readStats } from './views.ts';
import { LIVE_STATUSES } from './state-machine.ts';
import type { JsonValue, SagaDefinition, SagaEngineEvents, SagaEventView, SagaStats, SagaView } from './types.ts';

/** Options of createSagaEngine. */
export interface SagaEngineOptions {
  /** PostgreSQL client (postgres-js); the engine does not close it. */
  sql: Sql;
  /** Redis URL for queues and locks. */
  redisUrl: string;
  /** redisUrl names one node of a Redis Cluster; the prefix must then be hash-tagged (`{ingest}`). Default false. */
  redisCluster?: boolean;
  /** More cluster nodes (`host:port`) to start from besides redisUrl's. */
  redisSeeds?: readonly string[];
  /** Saga definitions this process knows (use defineSaga). */
  sagas: SagaDefinition[];
  /** BullMQ key prefix and lock prefix; isolates fleets (and tests). Default 'saga'. */
  prefix?: string;
  /** Default pino logger at info. */
  logger?: Logger;
  /** How long a claimed step stays owned without a heartbeat. Default 30 000 ms. */
  leaseMs?: number;
  /** Minimum interval between progress writes. Default 1000 ms. */
  progressIntervalMs?: number;
  /** How long an aborted step may take to stop before the engine moves on. Default 15 000 ms. */
  abortGraceMs?: number;
  /** Lock TTL beyond the saga deadline. Default 600 000 ms. */
  lockTtlMarginMs?: number;
  /** Default saga deadline when a definition sets none. Default 3600 s. */
  defaultTimeoutSeconds?: number;
  /**
   * true: apply the engine's migrations in create() (tests, one-process tools). Default false: only check that the
   * schema is at this build's version (SchemaVersionError otherwise); `npm run migrate` applies it.
   */
  migrate?: boolean;
}

/** Options of start(). */
export interface StartSagaOptions {
  sagaId?: string;
  /** Same key, same saga: a repeated start returns the first saga. */
  idempotencyKey?: string;
  /**
   * Exclusive resources (exclusivity keys; instead of the definition's exclusivityKey): a second live saga on any of
   * them is refused with SagaLockedError. The first is the primary (PostgreSQL's live-lock index backs it).
   */
  lockKey?: string | readonly string[];
  timeoutSeconds?: number;
}

/** Options of startWorkers(). */
export interface WorkerOptions {
  /** Jobs processed at once per queue (a step declaring its own `concurrency` keeps that). Default 1. */
  concurrency?: number;
  /** Only these queues (see queueNames()); default all. */
  queues?: string[];
  /** BullMQ lock duration. Default 30 000 ms. */
  lockDurationMs?: number;
  /** BullMQ stalled-job check interval. Default 30 000 ms. */
  stalledIntervalMs?: number;
  /** Run the outbox relay and lost-job recovery in this process every N ms; 0 disables. Default 5000. */
  maintenanceIntervalMs?: number;
}

/** A saga engine; its events are listed in SagaEngineEvents. */
export interface SagaEngine {
  /** Starts a saga; returns its id and whether it was new (false: same idempotency key). */
  start(sagaName: string, input: unknown, options?: StartSagaOptions): Promise<{ sagaId: string; created: boolean }>;
  /** Cancels a saga: it rolls back. */
  cancel(sagaId: string): Promise<RollbackRequestResult>;
  get(sagaId: string): Promise<SagaView>;
  /** The saga's audit trail (state changes, attempts, retries, compensations, leftovers), oldest first. */
  events(sagaId: string, options?: { afterId?: number; limit?: number }): Promise<SagaEventView[]>;
  stats(): Promise<SagaStats>;
  /** Consumes queues in this process until close(). */
  startWorkers(options?: WorkerOptions): Promise<void>;
  /**
   * Stops taking jobs (a process that is not ready): consumers fetch nothing, a job already fetched is handed back to
   * its wait list untouched, no step runs in place; steps running now go on. Idempotent.
   */
  pauseWorkers(): Promise<void>;
  /** Takes jobs again after pauseWorkers(). Idempotent. */
  resumeWorkers(): Promise<void>;
  /** All queue names of the registered sagas. */
  queueNames(): string[];
  /** Repairs: relay outbox, re-dispatch lost jobs, roll back overdue sagas, release stale locks. */
  maintain(options?: { relayOlderThanMs?: number; idleMs?: number }): Promise<MaintenanceResult>;
  /** Retries recorded leftovers through the undo their saga's definition declares for their store. */
  retryFailedCleanups(options?: RetryCleanupsOptions): Promise<CleanupPassResult>;
  /** Retention: deletes delivered outbox rows, and the history of sagas ended longer ago than `retainMs`, in bounded batches. */
  pruneHistory(options: PruneHistoryOptions): Promise<PruneHistoryResult>;
  /** Round trip to Redis over the engine's own connection (health checks). */
  pingRedis(): Promise<void>;
  on<E extends keyof SagaEngineEvents>(event: E, listener: (e: SagaEngineEvents[E]) => void): void;
  /** Stops workers (running steps hand back their job), closes queues and Redis. */
  close(): Promise<void>;
  readonly logger: Logger;
  readonly workerId: string;
}

/** What one maintenance pass did. */
export interface MaintenanceResult {
  relayed: number;
  redispatched: number;
  rolledBackOverdue: number;
  releasedLocks: number;
}

/** Creates an engine: validates options, checks (or applies) the schema, connects. */
export async function createSagaEngine(options: SagaEngineOptions): Promise<SagaEngine> {
  if (!options.sql) throw new SagaInputError('sql is required');
  if (!options.redisUrl) throw new SagaInputError('redisUrl is required');
  const prefix = options.prefix ?? 'saga';
  if (prefix.includes(':')) throw new SagaInputError('prefix must not contain ":"');
  // BullMQ's scripts touch several keys of a queue at once: on a cluster they must share a slot.
  if (options.redisCluster && !isHashTagged(prefix)) throw new SagaInputError('on Redis Cluster the prefix must be hash-tagged, e.g. {ingest}');
  const logger = options.logger ?? pino({ level: process.env.LOG_LEVEL ?? 'info' });
  const defs = new Map<string, SagaDefinition>();
  for (const d of options.sagas as SagaDefinition[]) {
    if (defs.has(d.name)) throw new SagaInputError(`saga "${d.name}" is registered twice`);
    defs.set(d.name, d);
  }
  if (options.migrate === true) await migrateSagaCore(options.sql);
  else {
    const v = await checkSagaCoreSchema(options.sql);
    // Additive first: a newer fleet's migrations only added what this build ignores.
    if (v.ahead) logger.info({ component: v.component, expected: v.expected, found: v.found }, 'schema is ahead of this build; accepted (additive migrations)');
  }
  const redisOptions = { maxRetriesPerRequest: null, enableReadyCheck: false } as const;
  const redis = createRedisClient({ url: options.redisUrl, cluster: options.redisCluster, seeds: options.redisSeeds }, redisOptions);
  redis.on('error', (err) => logger.warn({ err }, 'redis connection error'));
  // BullMQ cannot be told a cluster's nodes in options: on a cluster, queues share the engine's client (workers
  // duplicate it for their blocking connection).
  const connection: ConnectionOptions = options.redisCluster ? redis : ({ url: options.redisUrl, ...redisOptions } as ConnectionOptions);
  const db = createDb(options.sql);
  const core: EngineCore = {
    sql: options.sql,
    db,
    redis,
    locks: createResourceLocks(redis, prefix),
    dispatcher: createDispatcher(db, connection, prefix, logger),
    logger,
    defs,
    workerId: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
    timings: {
      leaseMs: options.leaseMs ?? 30_000,
      progressIntervalMs: options.progressIntervalMs ?? 1000,
      abortGraceMs: options.abortGraceMs ?? 15_000,
      lockTtlMarginMs: options.lockTtlMarginMs ?? 600_000,
      defaultTimeoutSeconds: options.defaultTimeoutSeconds ?? 3600,
    },
    events: new EventEmitter(),
    shutdown: new AbortController(),
    contexts: createRunContextCache(),
    consumed: new Set(),
  };
  const workers: Worker[] = [];
  // While paused, the queues this process consumes are taken out of core.consumed (no step runs in place).
  let paused: string[] | undefined;
  let maintenanceTimer: NodeJS.Timeout | undefined;

  const maintain = async (o: { relayOlderThanMs?: number; idleMs?: number } = {}): Promise<MaintenanceResult> => ({
    relayed: await core.dispatcher.relay(o.relayOlderThanMs ?? 5000),
    redispatched: await recoverLostJobs(core, o.idleMs ?? Math.max(10_000, core.timings.leaseMs)),
    rolledBackOverdue: await rollBackOverdue(core),
    releasedLocks: await releaseStaleLocks(core),
  });

  const engine: SagaEngine = {
    logger,
    workerId: core.workerId,
    queueNames: () => [...defs.values()].flatMap((d) => queuesOf(d)),

    async start(sagaName, rawInput, o = {}) {
      const def = defs.get(sagaName);
      if (!def) throw new UnknownSagaError(sagaName);
      const input = (def.parseInput ? def.parseInput(rawInput) : rawInput) as JsonValue;
      if (o.idempotencyKey) {
        const [existing] = await db.select({ id: sagaInstances.id }).from(sagaInstances).where(eq(sagaInstances.idempotencyKey, o.idempotencyKey));
        if (existing) return { sagaId: existing.id, created: false };
      }
      const sagaId = o.sagaId ?? randomUUID();
      const timeoutSeconds = o.timeoutSeconds ?? def.timeoutSeconds ?? core.timings.defaultTimeoutSeconds;
      const deadlineAt = new Date(Date.now() + timeoutSeconds * 1000);
      const lockKeys = normalizeLockKeys(o.lockKey ?? def.exclusivityKey?.(input));
      const lockKey = lockKeys[0] ?? null;
      const extraLockKeys = lockKeys.length > 1 ? lockKeys.slice(1) : null;
      try {
        await ensureLocks(core, lockKeys, sagaId, deadlineAt);
      } catch (err) {
        // All or none: a key taken over from an ended saga before another key was found held is given back.
        await core.locks.release(lockKeys, sagaId).catch(() => 0);
        throw err;
      }
      const firstStep = def.steps[0]!;
      const payload: JobPayload = { sagaId, seq: 1, step: 0, phase: 'action' };
      const job = { queue: queueName(def.name, firstStep.name, 'action'), jobId: jobIdOf(sagaId, 1), payload, sagaId };
      try {
        // One statement, so one transaction: the saga, its step rows, its first event and the first job's outbox row.
        await options.sql`
          with saga as (
            insert into saga_instances (id, name, state, status, input, idempotency_key, lock_key, extra_lock_keys, deadline_at)
            values (${sagaId}, ${def.name}, 'initialized', 'running', ${JSON.stringify(input ?? null)}::jsonb, ${o.idempotencyKey ?? null}, ${lockKey}, ${extraLockKeys}::text[], ${deadlineAt.toISOString()}::timestamptz)
            returning id
          ), steps as (
            insert into saga_steps (saga_id, step_index, name)
            select saga.id, s.i - 1, s.name from saga, unnest(${def.steps.map((x) => x.name)}::text[]) with ordinality as s(name, i)
          ), started as (
            insert into saga_events (saga_id, type, to_state, data)
            select saga.id, 'saga_started', 'initialized', ${JSON.stringify({ deadlineAt: deadlineAt.toISOString(), lockKey, ...(extraLockKeys ? { lockKeys } : {}) })}::jsonb from saga
          )
          insert into saga_outbox (saga_id, queue, job_id, payload)
          select saga.id, ${job.queue}, ${job.jobId}, ${JSON.stringify(payload)}::jsonb from saga`;
        logger.info({ sagaId, saga: def.name, lockKeys }, 'saga started');
        // Input as the database returns it (a JSON round trip), like every later read.
        core.contexts.put(sagaId, 1, { sagaName: def.name, state: 'initialized', input: JSON.parse(JSON.stringify(input)) as JsonValue, outputs: {}, deadlineAt, lockKeys, attempts: 0 });
        await core.dispatcher.enqueue(job);
        return { sagaId, created: true };
      } catch (err) {
        await core.locks.release(lockKeys, sagaId).catch(() => 0);
        if (o.idempotencyKey && isUniqueViolation(err, 'saga_instances_idempotency_key')) {
          const [existing] = await db.select({ id: sagaInstances.id }).from(sagaInstances).where(eq(sagaInstances.idempotencyKey, o.idempotencyKey));
          if (existing) return { sagaId: existing.id, created: false };
        }
        if (lockKey && isUniqueViolation(err, 'saga_instances_live_lock')) {
          const [holder] = await db
            .select({ id: sagaInstances.id })
            .from(sagaInstances)
            .where(and(eq(sagaInstances.lockKey, lockKey), inArray(sagaInstances.status, [...LIVE_STATUSES])));
          throw new SagaLockedError(lockKey, holder?.id ?? 'unknown');
        }
        throw err;
      }
    },

    cancel: (sagaId) => requestRollback(core, sagaId, 'CANCELLED', 'saga cancelled by request'),
    get: (sagaId) => readSaga(db, sagaId),
    events: (sagaId, o) => readEvents(db, sagaId, o),
    stats: () => readStats(db),
    maintain,
    async pingRedis() {
      await redis.ping();
    },
    retryFailedCleanups: (o) => retryFailedCleanups(core, o),
    pruneHistory: (o) => pruneHistory(core, o),
    on(event, listener) {
      core.events.on(event, (e: SagaEngineEvents[typeof event]) => {
        try {
          listener(e);
        } catch (err) {
          logger.warn({ err: toError(err), event }, 'engine event listener threw');
        }
      });
    },

    async startWorkers(w = {}) {
      const names = w.queues ?? engine.queueNames();
      const known = new Set(engine.queueNames());
      const unknown = names.filter((n) => !known.has(n));
      if (unknown.length > 0) throw new SagaInputError(`unknown queues: ${unknown.join(', ')}`);
      const stepBounds = actionQueueBounds(defs.values());
      for (const name of names) {
        // Started while paused: the queues join the paused set, and resumeWorkers() lets them run in place.
        if (paused) paused.push(name);
        else core.consumed.add(name);
        const worker = new Worker(name, (job, token) => (paused ? handBack(job, token) : handleJob(core, job, token)), {
          connection,
          prefix,
          concurrency: stepBounds.get(name) ?? w.concurrency ?? 1,
          lockDuration: w.lockDurationMs ?? 30_000,
          stalledInterval: w.stalledIntervalMs ?? 30_000,
          // Duplicate deliveries are harmless (checked against PostgreSQL); never give up on a stalled job.
          maxStalledCount: 1000,
        });
        worker.on('error', (err) => logger.warn({ err, queue: name }, 'worker error'));
        worker.on('failed', (job, err) => logger.error({ err, queue: name, jobId: job?.id }, 'job handler failed (infrastructure); BullMQ retries it'));
        workers.push(worker);
      }
      await Promise.all(workers.map((x) => x.waitUntilReady()));
      if (paused) await Promise.all(workers.map((x) => x.pause(true)));
      const every = w.maintenanceIntervalMs ?? 5000;
      if (every > 0) {
        const tick = () => {
          maintain()
            .catch((err: unknown) => logger.warn({ err: toError(err) }, 'maintenance pass failed'))
            .finally(() => {
              if (!core.shutdown.signal.aborted) maintenanceTimer = setTimeout(tick, every);
            });
        };
        maintenanceTimer = setTimeout(tick, every);
      }
      logger.info({ queues: names.length, concurrency: w.concurrency ?? 1, workerId: core.workerId }, 'workers started');
    },

    async pauseWorkers() {
      if (paused) return;
      paused = [...core.consumed];
      core.consumed.clear();
      // Without waiting for active jobs: an upload may run for an hour, and it stops on its own if it cannot go on.
      await Promise.all(workers.map((x) => x.pause(true)));
    },

    async resumeWorkers() {
      if (!paused) return;
      for (const name of paused) core.consumed.add(name);
      paused = undefined;
      await Promise.all(workers.map((x) => x.resume()));
    },

    async close() {
      core.shutdown.abort();
      core.consumed.clear();
      if (maintenanceTimer) clearTimeout(maintenanceTimer);
      await Promise.all(workers.map((x) => x.close()));
      workers.length = 0;
      await releaseOwnLeases(core).catch(() => undefined);
      await core.dispatcher.close();
      redis.disconnect();
    },
  };
  return engine;
}
