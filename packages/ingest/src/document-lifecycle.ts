// What the API does with a document's life: find its current version, start its deletion (idempotent, refused while
// an ingestion of it is live), check a replacement may start, and start the removal of a superseded version.
import { SagaLockedError, isLiveStatus, type SagaEngine, type SagaView } from '@ingest/saga-core';
import type { DocumentRecord, RelationalStore } from '@ingest/storage';
import { DELETE_SAGA, documentLockKey, type DeleteInput, type VersionToRemove } from './delete-saga.ts';
import type { DocumentHead, DocumentVersion, DocumentVersions } from './document-versions.ts';
import { DocumentDeletingError, DocumentNotFoundError } from './errors.ts';
import type { DocumentView } from './types.ts';
import { isUuid } from './uuid.ts';

/** A stable document as readers see it: its head (null for a document committed before heads existed) and current row. */
export interface ResolvedDocument {
  documentId: string;
  head: DocumentHead | null;
  /** The current version's row; null once deleted. */
  row: DocumentRecord | null;
  status: DocumentHead['status'];
  version: number;
}

/** Collaborators of the lifecycle operations. */
export interface DocumentLifecycleDeps {
  engine: SagaEngine;
  versions: DocumentVersions;
  relational: RelationalStore;
}

/** The lifecycle operations the runtime exposes. */
export interface DocumentLifecycle {
  /** The document under its stable id; throws DocumentNotFoundError for unknown, non-stable or deleted ids. */
  resolve(documentId: string, options?: { includeDeleted?: boolean }): Promise<ResolvedDocument>;
  /** Every version of a document, oldest first. */
  history(documentId: string): Promise<DocumentVersion[]>;
  /** Starts (or answers the running) deletion; 404 unknown or gone, 409 (SagaLockedError) while an ingestion of it is live. */
  requestDelete(documentId: string, requestedBy: string): Promise<{ sagaId: string; created: boolean }>;
  /**
   * Checks a replacement of `documentId` may start (not deleting, not an uncommitted ingestion); the replacement's
   * saga then holds the document's key (its exclusivityKey) while it runs.
   */
  checkReplacement(documentId: string): Promise<void>;
  /** Starts the removal of a superseded version (same version → same saga). */
  retireVersion(r: { documentId: string; version: VersionToRemove; requestedBy: string }): Promise<void>;
}

/** The body of GET /v1/documents/:id: the current version's metadata, the document's status, version and history. */
export function toDocumentView(doc: ResolvedDocument, history: DocumentVersion[]): DocumentView {
  const row = doc.row;
  const meta = (row?.metadata ?? {}) as Record<string, unknown>;
  return {
    documentId: doc.documentId,
    versionId: row?.id ?? doc.head?.currentVersionId ?? doc.documentId,
    version: doc.version,
    status: doc.status,
    sagaId: typeof meta.sagaId === 'string' ? meta.sagaId : null,
    title: row?.title ?? '',
    category: row?.category ?? null,
    securityLevel: row?.securityLevel ?? null,
    sourcePath: row?.sourcePath ?? '',
    sizeBytes: row?.size ?? 0,
    sha256: row?.sha256 ?? '',
    chunkCount: row?.chunkCount ?? 0,
    metadata: meta,
    createdAt: (doc.head?.createdAt ?? row?.createdAt ?? new Date(0)).toISOString(),
    versions: history.map((v) => ({
      version: v.version,
      versionId: v.versionId,
      status: v.status,
      sagaId: v.sagaId,
      committedAt: v.committedAt.toISOString(),
      supersededAt: v.supersededAt?.toISOString() ?? null,
      removedAt: v.removedAt?.toISOString() ?? null,
    })),
  };
}

/** Builds the lifecycle operations over the engine and the version store. */
export function createDocumentLifecycle(deps: DocumentLifecycleDeps): DocumentLifecycle {
  const { engine, versions, relational } = deps;

  // A saga as the engine stores it; null for an id that names none (documents keep the id of the saga that wrote them).
  const sagaOf = async (sagaId: string | null): Promise<SagaView | null> => {
    if (!sagaId || !isUuid(sagaId)) return null;
    try {
      return await engine.get(sagaId);
    } catch {
      return null;
    }
  };

  // The ingestion that wrote a version's row, read once: it still owns a document that has no head while it is live.
  const ingestionOf = async (doc: ResolvedDocument): Promise<{ sagaId: string | null; saga: SagaView | null }> => {
    const sagaId = doc.row?.metadata && typeof doc.row.metadata.sagaId === 'string' ? doc.row.metadata.sagaId : null;
    const saga = await sagaOf(sagaId);
    if (!doc.head && saga && isLiveStatus(saga.status)) throw new SagaLockedError(documentLockKey(doc.documentId), saga.id);
    return { sagaId, saga };
  };

  const resolve = async (documentId: string, o: { includeDeleted?: boolean } = {}): Promise<ResolvedDocument> => {
    if (!isUuid(documentId)) throw new DocumentNotFoundError(documentId);
    const head = await versions.head(documentId);
    if (head) {
      if (head.status === 'deleted' && !o.includeDeleted) throw new DocumentNotFoundError(documentId);
      const row = head.status === 'deleted' ? null : ((await relational.get(head.currentVersionId)) ?? null);
      if (!row && head.status === 'active') throw new DocumentNotFoundError(documentId);
      return { documentId, head, row, status: head.status, version: head.version };
    }
    // No head: a document committed before heads existed, or one whose ingestion has not committed yet. A version
    // id of another document is not an address of its own.
    const own = await versions.version(documentId);
    if (own && own.documentId !== documentId) throw new DocumentNotFoundError(documentId);
    const row = await relational.get(documentId);
    if (!row) throw new DocumentNotFoundError(documentId);
    return { documentId, head: null, row, status: 'active', version: 1 };
  };

  const lifecycle: DocumentLifecycle = {
    resolve,
    history: (documentId) => versions.versionsOf(documentId),

    async requestDelete(documentId, requestedBy) {
      const doc = await resolve(documentId);
      // A delete under way answers with its saga; one that ended without finishing (it failed before removing
      // anything) is started again.
      const running = doc.head?.status === 'deleting' ? await sagaOf(doc.head.deleteSagaId) : null;
      if (running && isLiveStatus(running.status)) return { sagaId: running.id, created: false };
      // An ingestion that wrote the row but has not committed yet still owns it.
      const ingestion = await ingestionOf(doc);
      const history = doc.head ? await versions.versionsOf(documentId) : [];
      const targets: VersionToRemove[] = history.filter((v) => v.status !== 'removed').map((v) => ({ versionId: v.versionId, operationId: v.operationId }));
      if (doc.row && !targets.some((t) => t.versionId === doc.row?.id)) targets.push({ versionId: doc.row.id, operationId: doc.row.operationId });
      // The source file's key of its ingestion too: while an ingestion of the same file is live the delete is refused
      // (409 naming it), and while the delete runs no ingestion of that file starts.
      const fileKey = ingestion.saga?.lockKey ?? null;
      const input: DeleteInput = {
        mode: 'delete',
        documentId,
        versions: targets,
        lockKey: documentLockKey(documentId),
        ...(fileKey ? { fileKey } : {}),
        requestedBy,
        requestedAt: new Date().toISOString(),
      };
      // The engine takes both keys at start and frees them at the end. The document's (backed by PostgreSQL's
      // one-live-saga-per-key index) makes two concurrent deletes one saga, and refuses a delete while a replacement
      // of the document runs (409 naming it).
      let started: { sagaId: string; created: boolean };
      try {
        started = await engine.start(DELETE_SAGA, input);
      } catch (err) {
        // A delete of this same document got there first: answer it. One of another document sharing the source
        // file is a 409 like any other holder.
        const holder = err instanceof SagaLockedError ? await sagaOf(err.holderSagaId) : null;
        if (holder?.name === DELETE_SAGA && isDeleteOf(holder.input, documentId)) return { sagaId: holder.id, created: false };
        throw err;
      }
      // Not served from now on, even before the saga's first step marks it again.
      const legacy = doc.head ? null : { versionId: doc.row?.id ?? documentId, sagaId: ingestion.sagaId, operationId: doc.row?.operationId ?? null };
      await versions.markDeleting(documentId, legacy, started.sagaId);
      return started;
    },

    async checkReplacement(documentId) {
      const doc = await resolve(documentId);
      if (doc.status === 'deleting') throw new DocumentDeletingError(documentId, doc.head?.deleteSagaId ?? null);
      if (!doc.head) await ingestionOf(doc);
    },

    async retireVersion(r) {
      const input: DeleteInput = {
        mode: 'retire',
        documentId: r.documentId,
        versions: [r.version],
        lockKey: `version:${r.version.versionId}`,
        requestedBy: r.requestedBy,
        requestedAt: new Date().toISOString(),
      };
      await engine.start(DELETE_SAGA, input, { idempotencyKey: `retire-version:${r.version.versionId}` });
    },
  };
  return lifecycle;
}

// Whether a deletion saga's input removes the document `documentId` (a retire removes one version only).
function isDeleteOf(input: unknown, documentId: string): boolean {
  const i = input as Partial<DeleteInput> | null;
  return i?.mode === 'delete' && i.documentId === documentId;
}
