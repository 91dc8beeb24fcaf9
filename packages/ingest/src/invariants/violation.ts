// What the consistency checker reports: one violation per broken promise, each carrying the ids to act on.
//
// Glossary: a *live* saga is running or compensating; a *committed* document is one whose saga completed;
// a *recorded leftover* is an unresolved failed_cleanups row naming (store, key).

/** Every kind of violation, machine-readable. */
export const VIOLATION_KINDS = [
  'orphan_chunks',
  'orphan_rows',
  'unrecorded_leftover',
  'corrupt_document',
  'incomplete_document',
  'overdue_saga',
  'leftover_already_gone',
  'unknown_leftover_store',
  'duplicate_document',
  'removed_document_remains',
] as const;

/** One of VIOLATION_KINDS. */
export type ViolationKind = (typeof VIOLATION_KINDS)[number];

/** A downstream store whose rows belong to one document. */
export type RowStore = 'relational' | 'vector' | 'graph' | 'security';

/** Objects under chunks/<operation>/ that no live saga, committed document or recorded leftover accounts for. */
export interface OrphanChunks {
  kind: 'orphan_chunks';
  operationId: string;
  sagaId: string | null;
  sagaStatus: string | null;
  /** How many objects; `keys` lists at most the first 20. */
  count: number;
  keys: string[];
}

/** Rows of a document whose saga neither completed nor is live, and that no recorded leftover names. */
export interface OrphanRows {
  kind: 'orphan_rows';
  store: RowStore;
  documentId: string;
  sagaId: string | null;
  sagaStatus: string | null;
  count: number;
}

/** A compensation_failed saga still holds objects or rows that failed_cleanups does not name. */
export interface UnrecordedLeftover {
  kind: 'unrecorded_leftover';
  sagaId: string;
  store: RowStore | 's3-chunk';
  /** The document id (rows) or the operation id (chunks). */
  ownerId: string;
  count: number;
  keys: string[];
}

/** A committed document whose stored bytes or manifest disagree with what it claims. */
export interface CorruptDocument {
  kind: 'corrupt_document';
  sagaId: string;
  documentId: string;
  operationId: string;
  /** The chunk concerned, when one is. */
  key: string | null;
  problem: string;
}

/** A completed saga whose document is missing from, or partial in, a downstream store. */
export interface IncompleteDocument {
  kind: 'incomplete_document';
  sagaId: string;
  documentId: string;
  store: RowStore;
  problem: string;
}

/** A saga still running or compensating well past its deadline. */
export interface OverdueSaga {
  kind: 'overdue_saga';
  sagaId: string;
  status: string;
  state: string;
  deadlineAt: string;
  overdueMs: number;
}

/** An unresolved failed_cleanups row whose leftover no longer exists: the record and the world disagree. */
export interface LeftoverAlreadyGone {
  kind: 'leftover_already_gone';
  leftoverId: number;
  sagaId: string;
  store: string;
  key: string;
}

/** An unresolved failed_cleanups row whose store names no store a cleaner (or this checker) knows: it can never be retried. */
export interface UnknownLeftoverStore {
  kind: 'unknown_leftover_store';
  leftoverId: number;
  sagaId: string;
  store: string;
  key: string;
}

/** Two committed documents for one saga, or two completed sagas for one idempotency key. */
export interface DuplicateDocument {
  kind: 'duplicate_document';
  by: 'saga' | 'idempotency_key';
  /** The saga id or the idempotency key shared. */
  sharedKey: string;
  /** The documents (by saga) or sagas (by idempotency key) that share it. */
  ids: string[];
}

/** A removed version (deleted, or superseded by a replacement) still has data that no recorded leftover names. */
export interface RemovedDocumentRemains {
  kind: 'removed_document_remains';
  documentId: string;
  versionId: string;
  /** The saga that removed it. */
  sagaId: string | null;
  /** A row store, or `s3` for objects under the version's chunk prefix. */
  store: string;
  key: string;
  count: number;
}

/** Any violation. */
export type Violation =
  | OrphanChunks
  | OrphanRows
  | UnrecordedLeftover
  | CorruptDocument
  | IncompleteDocument
  | OverdueSaga
  | LeftoverAlreadyGone
  | UnknownLeftoverStore
  | DuplicateDocument
  | RemovedDocumentRemains;

/** What was looked at, so an empty report can be told apart from a check that saw nothing. */
export interface InvariantScanCounts {
  sagas: number;
  liveSagas: number;
  completedSagas: number;
  documentsVerified: number;
  chunksVerified: number;
  objectsListed: number;
  operationsListed: number;
  rowDocuments: number;
  leftoversChecked: number;
}

/** The checker's answer. */
export interface InvariantReport {
  ok: boolean;
  /** The violations found, at most `maxViolations` of them (see violationCount for all). */
  violations: Violation[];
  violationCount: number;
  byKind: Record<ViolationKind, number>;
  scanned: InvariantScanCounts;
  deep: boolean;
  startedAt: string;
  durationMs: number;
}
