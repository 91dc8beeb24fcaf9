// @ingest/ingest: the document-ingestion saga and the runtime that producer, worker and janitor share.
export { createIngestRuntime, type IngestRuntimeOptions } from './runtime.ts';
export { startIngestRuntime, type StartRuntimeOptions } from './start-runtime.ts';
export { migrateIngestSchema, checkFleetSchema, fleetDatabases, type FleetDatabase, type SchemaReport } from './schema.ts';
export { loadConfig, redactedConfig, type IngestConfig } from './config.ts';
export { encodingFromConfig, keyProviderFromConfig } from './at-rest-encoding.ts';
export { parseIngestRequest, type IngestRequest } from './request.ts';
export { resolveSource, type ResolvedSource, type SourceLimits } from './source-path.ts';
export { INGEST_STORE_NAMES, ingestStoreRegistry, type IngestStore, type IngestStoreDeps } from './leftover-stores.ts';
export { INGEST_SAGA, INGEST_STEPS, ingestSaga, type IngestInput, type IngestSagaDeps } from './ingest-saga.ts';
export { IngestError, InvalidRequestError, SourceRejectedError, ConfigError, DocumentNotFoundError, DocumentDeletingError, type FieldProblem } from './errors.ts';
export { DELETE_SAGA, DELETE_STEPS, deleteSaga, documentLockKey, type DeleteInput, type DeleteSagaDeps, type VersionToRemove } from './delete-saga.ts';
export { createDocumentVersions, type DocumentVersions, type DocumentHead, type DocumentVersion } from './document-versions.ts';
export { parseDocumentListQuery, type DocumentListQuery, type DocumentListItem, type DocumentListPage } from './document-listing.ts';
export type {
  IngestRuntime,
  IngestionStatus,
  IngestProgress,
  IngestStepStatus,
  DocumentView,
  DocumentVersionView,
  JanitorSummary,
  HealthReport,
  SubmitOptions,
} from './types.ts';
export {
  checkInvariants,
  connectInvariantDeps,
  formatSummary,
  formatViolation,
  KNOWN_LEFTOVER_STORES,
  VIOLATION_KINDS,
  type InvariantConnections,
  type InvariantDeps,
  type InvariantOptions,
  type InvariantReport,
  type InvariantScanCounts,
  type Violation,
  type ViolationKind,
  type RowStore,
} from './invariants/index.ts';
export type { RetentionSummary } from './retention.ts';
