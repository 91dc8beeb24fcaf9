// @ingest/saga-core: a generic choreographed saga engine on BullMQ queues with its state in PostgreSQL.
// See types.ts for the glossary (saga, step, phase, compensation, outbox, leftover).
export { createSagaEngine, type SagaEngine, type SagaEngineOptions, type StartSagaOptions, type WorkerOptions, type MaintenanceResult } from './engine.ts';
export { defineSaga } from './define-saga.ts';
export { migrateSagaCore, checkSagaCoreSchema } from './migrate.ts';
// The migration lock and the schema-version check (also importable alone, as @ingest/saga-core/schema-tools).
export * from './schema-tools.ts';
export {
  SagaError,
  SagaRollbackRequired,
  CompensationFailed,
  SagaDefinitionError,
  SagaLockedError,
  IllegalTransitionError,
  SagaNotFoundError,
  UnknownSagaError,
  StepTimeoutError,
  SagaInputError,
  isRollbackRequired,
  toError,
  errorCode,
  type Leftover,
} from './errors.ts';
export {
  DEFAULT_STAGES,
  ENGINE_STATES,
  LIVE_STATUSES,
  isLiveStatus,
  assertTransition,
  canTransition,
  isTerminal,
  statusOf,
  type SagaState,
  type SagaStatus,
  type StageMachine,
  type StepState,
} from './state-machine.ts';
export { queueName, jobIdOf, type JobPayload, type Phase } from './queues.ts';
export { backoffDelay, isTransientInfraError, withInfraRetry } from './retry.ts';
export type { CleanupPassResult, RetryCleanupsOptions } from './maintenance.ts';
export type { EndedSagaRef, PruneHistoryOptions, PruneHistoryResult } from './prune-history.ts';
export {
  UndeclaredStoreError,
  resolveStore,
  type ExistsContext,
  type LeftoverRecord,
  type LeftoverStore,
  type StoreName,
  type StoreRegistry,
  type UndoContext,
} from './store-registry.ts';
export type { RollbackRequestResult } from './request-rollback.ts';
export type {
  JsonValue,
  JsonObject,
  RetryPolicy,
  StepContext,
  StepDefinition,
  StepOutputs,
  SagaStep,
  SagaDefinition,
  StepView,
  StepStatus,
  SagaFailure,
  FailedCleanupView,
  SagaView,
  SagaEventView,
  SagaStats,
  SagaEngineEvents,
} from './types.ts';
/** The engine's drizzle tables, for read-only queries elsewhere (the consistency checker, dashboards). */
export * as sagaSchema from './schema.ts';
/** Redis clients for one server or a Redis Cluster, and the cluster's key rules. */
export { createRedisClient, parseHostPort, scanTargets, isHashTagged, type RedisClient, type RedisTarget } from './redis-client.ts';
