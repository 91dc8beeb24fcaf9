// Public shapes of the ingestion runtime that the producer, worker and janitor apps use.
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { AlertDeliveryResult } from '@ingest/ops';
import type { JsonValue, SagaEngine, SagaEventView, SagaStats } from '@ingest/saga-core';
import type { IngestConfig } from './config.ts';
import type { DocumentListPage } from './document-listing.ts';
import type { RetentionSummary } from './retention.ts';

/** Upload progress as the API reports it. */
export interface IngestProgress {
  bytesDone: number;
  bytesTotal: number;
  percent: number;
  bytesPerSecond: number;
  etaSeconds: number | null;
}

/** One step as GET /v1/sagas/:id reports it. */
export interface IngestStepStatus {
  name: string;
  phase: 'action' | 'compensation';
  status: string;
  attempts: number;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
}

/** The body of GET /v1/sagas/:id. */
export interface IngestionStatus {
  sagaId: string;
  status: 'running' | 'compensating' | 'completed' | 'compensated' | 'compensation_failed' | 'failed';
  state: string;
  success: boolean;
  documentId: string | null;
  operationId: string | null;
  /** A completed saga's result: its last step's output (the wiki saga's {status, files_created, snapshot_id, message}). */
  result: JsonValue | null;
  rollbackPerformed: boolean;
  rollbackStatus: 'success' | 'partial_failure' | null;
  errors: string[];
  compensationErrors: string[];
  failure: { reason: string; message: string; step: string | null } | null;
  progress: IngestProgress;
  steps: IngestStepStatus[];
  createdAt: string;
  finishedAt: string | null;
}

/** One version in a document's history. */
export interface DocumentVersionView {
  version: number;
  versionId: string;
  status: 'current' | 'replaced' | 'removing' | 'removed';
  sagaId: string | null;
  committedAt: string;
  supersededAt: string | null;
  removedAt: string | null;
}

/** A committed document's metadata (its current version's), status, version and history. */
export interface DocumentView {
  /** The stable id: the same across replacements. */
  documentId: string;
  /** The current version's own id (its rows in every store are keyed by it). */
  versionId: string;
  version: number;
  status: 'active' | 'deleting' | 'deleted';
  versions: DocumentVersionView[];
  sagaId: string | null;
  title: string;
  category: string | null;
  securityLevel: string | null;
  sourcePath: string;
  sizeBytes: number;
  sha256: string;
  chunkCount: number;
  metadata: Record<string, unknown>;
  createdAt: string;
}

/** What one janitor pass did. */
export interface JanitorSummary {
  cleanups: { attempted: number; resolved: number; failed: number };
  /** Alert webhook deliveries of this pass (all 0 without ALERT_WEBHOOK_URL). */
  alerts: AlertDeliveryResult;
  relayed: number;
  redispatched: number;
  rolledBackOverdue: number;
  releasedLocks: number;
  orphanChunksDeleted: number;
  orphanPrefixes: string[];
  /** What retention pruned this pass. */
  retention: RetentionSummary;
  durationMs: number;
}

/** Health of each dependency. */
export interface HealthReport {
  ok: boolean;
  checks: Record<string, string>;
}

/** Who and how a submission was made. */
export interface SubmitOptions {
  /** Same key → same saga. */
  idempotencyKey?: string;
  /** Recorded in the security audit. */
  requestedBy?: string;
}

/** The ingestion system as one process sees it: engine, stores and the 9-step saga. */
export interface IngestRuntime {
  readonly config: IngestConfig;
  readonly engine: SagaEngine;
  readonly logger: Logger;
  /** Validates and starts an ingestion. Throws InvalidRequestError (400), SourceRejectedError (422), SagaLockedError (409). */
  submit(body: unknown, options?: SubmitOptions): Promise<{ sagaId: string; created: boolean }>;
  /** Throws SagaNotFoundError (404). */
  status(sagaId: string): Promise<IngestionStatus>;
  /** The saga's audit trail, oldest first. Throws SagaNotFoundError (404). */
  events(sagaId: string, options?: { afterId?: number; limit?: number }): Promise<SagaEventView[]>;
  /** Throws SagaNotFoundError (404). */
  cancel(sagaId: string): Promise<{ accepted: boolean; state: string }>;
  stats(): Promise<SagaStats>;
  /** Calls `listener` with the bytes each upload in this process stores, as they are stored (chunks already stored do not count). */
  onUploadedBytes(listener: (bytes: number) => void): void;
  /** Throws DocumentNotFoundError (404). */
  getDocument(documentId: string): Promise<DocumentView>;
  /** Starts deleting a document (same document → same saga while it runs). Throws DocumentNotFoundError (404), SagaLockedError (409). */
  deleteDocument(documentId: string, options?: { requestedBy?: string }): Promise<{ sagaId: string; created: boolean }>;
  /** One page of documents (GET /v1/documents query parameters). Throws InvalidRequestError (400). */
  listDocuments(query: unknown): Promise<DocumentListPage>;
  /** Streams the stored bytes chunk by chunk. Throws DocumentNotFoundError (404), DocumentDeletingError (409). */
  openDocumentContent(documentId: string): Promise<{ stream: Readable; sizeBytes: number; sha256: string }>;
  /** Consumes the saga's queues (all, or `queues`). */
  startWorkers(options?: { concurrency?: number; queues?: string[] }): Promise<void>;
  /** Stops taking jobs while not ready (running steps go on); resumeWorkers() takes them again. */
  pauseWorkers(): Promise<void>;
  resumeWorkers(): Promise<void>;
  /** One janitor pass: leftovers, orphan chunks, overdue/stuck sagas, undelivered transitions, stale locks, retention. */
  janitorPass(): Promise<JanitorSummary>;
  /** Runs one leftover's cleaner now, due or not; `attempted` is false when it is resolved already or being retried. */
  retryCleanup(id: number): Promise<{ attempted: boolean; resolved: boolean }>;
  /** Posts due alerts to ALERT_WEBHOOK_URL (retries with backoff); null when no webhook is configured. */
  deliverAlerts(): Promise<AlertDeliveryResult | null>;
  checkHealth(): Promise<HealthReport>;
  /** Drains workers (running steps hand their job back), then closes connections. */
  close(): Promise<void>;
}
