// A document's versions in the relational store's database: the head (stable id → current version, status) and the
// history of versions. The one switch from the old version to the new is a single UPDATE inside the commit step.
import type { Sql } from 'postgres';

/** A stable document's head: its current version and its life. */
export interface DocumentHead {
  id: string;
  currentVersionId: string;
  version: number;
  status: 'active' | 'deleting' | 'deleted';
  deleteSagaId: string | null;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
}

/** One committed version of a document. */
export interface DocumentVersion {
  versionId: string;
  documentId: string;
  version: number;
  previousVersionId: string | null;
  sagaId: string | null;
  operationId: string | null;
  status: 'current' | 'replaced' | 'removing' | 'removed';
  removeSagaId: string | null;
  committedAt: Date;
  supersededAt: Date | null;
  removedAt: Date | null;
}

/** What commit() records. `documentId` is the stable id: the version's own id for a new document, the replaced one's otherwise. */
export interface VersionCommit {
  versionId: string;
  documentId: string;
  sagaId: string;
  operationId: string;
}

/** Why a replacement cannot become current. */
export type CommitRefusal = 'DOCUMENT_DELETED' | 'DOCUMENT_NOT_FOUND';

/** The outcome of commit(): the version number it got and the version it superseded, or why it was refused. */
export type CommitOutcome = { ok: true; version: number; previousVersionId: string | null } | { ok: false; reason: CommitRefusal; message: string };

/** Reads and writes of heads and versions. */
export interface DocumentVersions {
  /** Makes the version current under its stable id (idempotent: a replay finds it current and answers the same). */
  commit(c: VersionCommit): Promise<CommitOutcome>;
  /** Undoes a commit that its saga then rolled back: the previous version is current again. Idempotent. */
  revert(versionId: string): Promise<void>;
  head(documentId: string): Promise<DocumentHead | undefined>;
  version(versionId: string): Promise<DocumentVersion | undefined>;
  /** Every version of a document, oldest first. */
  versionsOf(documentId: string): Promise<DocumentVersion[]>;
  /**
   * Marks a document deleting by `sagaId` (creating the head of a document committed before heads existed). The
   * caller holds the document's lock, so a deleting head it finds belongs to a deletion that ended unfinished.
   */
  markDeleting(documentId: string, legacy: { versionId: string; sagaId: string | null; operationId: string | null } | null, sagaId: string): Promise<DocumentHead | undefined>;
  /** Marks a document deleted (its data removed, or every leftover recorded). */
  markDeleted(documentId: string): Promise<void>;
  /** Marks versions as being removed by `sagaId`. */
  markRemoving(versionIds: readonly string[], sagaId: string): Promise<void>;
  /** Marks versions removed. */
  markRemoved(versionIds: readonly string[]): Promise<void>;
}

type HeadRow = {
  id: string;
  current_version_id: string;
  version: number;
  status: DocumentHead['status'];
  delete_saga_id: string | null;
  created_at: Date | string;
  updated_at: Date | string;
  deleted_at: Date | string | null;
};
type VersionRow = {
  version_id: string;
  document_id: string;
  version: number;
  previous_version_id: string | null;
  saga_id: string | null;
  operation_id: string | null;
  status: DocumentVersion['status'];
  remove_saga_id: string | null;
  committed_at: Date | string;
  superseded_at: Date | string | null;
  removed_at: Date | string | null;
};

/** Builds the version store over the relational store's connection. */
export function createDocumentVersions(sql: Sql): DocumentVersions {
  const versions = {
    async commit(c: VersionCommit): Promise<CommitOutcome> {
      if (c.versionId === c.documentId) {
        // A new document: version 1, its own stable id. A replay inserts nothing.
        await sql`
          with head as (
            insert into document_heads (id, current_version_id, version, status) values (${c.documentId}, ${c.versionId}, 1, 'active')
            on conflict do nothing
          )
          insert into document_versions (version_id, document_id, version, saga_id, operation_id, status)
          values (${c.versionId}, ${c.documentId}, 1, ${c.sagaId}, ${c.operationId}, 'current')
          on conflict do nothing`;
        return { ok: true, version: 1, previousVersionId: null };
      }
      return sql.begin(async (tx): Promise<CommitOutcome> => {
        const mine = await tx<VersionRow[]>`select * from document_versions where version_id = ${c.versionId}`;
        if (mine[0]) return { ok: true, version: mine[0].version, previousVersionId: mine[0].previous_version_id };
        // A document an older worker committed has no head yet: it becomes version 1 of itself first.
        await tx`insert into document_heads (id, current_version_id, version, status, created_at)
                 select id, id, 1, 'active', created_at from documents where id = ${c.documentId} on conflict do nothing`;
        await tx`insert into document_versions (version_id, document_id, version, saga_id, operation_id, status, committed_at)
                 select id, id, 1, metadata->>'sagaId', operation_id, 'current', created_at from documents where id = ${c.documentId}
                 on conflict do nothing`;
        const [head] = await tx<HeadRow[]>`select * from document_heads where id = ${c.documentId} for update`;
        if (!head) return { ok: false, reason: 'DOCUMENT_NOT_FOUND', message: `document ${c.documentId} has no head to replace` };
        if (head.status !== 'active') return { ok: false, reason: 'DOCUMENT_DELETED', message: `document ${c.documentId} is ${head.status}` };
        const version = head.version + 1;
        // The switch readers see: one UPDATE of the head, in the same transaction as the history rows.
        await tx`update document_heads set current_version_id = ${c.versionId}, version = ${version}, updated_at = now() where id = ${c.documentId}`;
        await tx`update document_versions set status = 'replaced', superseded_at = now() where version_id = ${head.current_version_id} and status = 'current'`;
        await tx`
          insert into document_versions (version_id, document_id, version, previous_version_id, saga_id, operation_id, status)
          values (${c.versionId}, ${c.documentId}, ${version}, ${head.current_version_id}, ${c.sagaId}, ${c.operationId}, 'current')`;
        return { ok: true, version, previousVersionId: head.current_version_id };
      });
    },

    async revert(versionId: string): Promise<void> {
      await sql.begin(async (tx) => {
        const [v] = await tx<VersionRow[]>`select * from document_versions where version_id = ${versionId} for update`;
        if (!v) return;
        if (v.previous_version_id) {
          await tx`update document_heads set current_version_id = ${v.previous_version_id}, version = version - 1, updated_at = now()
                   where id = ${v.document_id} and current_version_id = ${versionId}`;
          await tx`update document_versions set status = 'current', superseded_at = null where version_id = ${v.previous_version_id} and status = 'replaced'`;
        } else {
          await tx`delete from document_heads where id = ${v.document_id} and current_version_id = ${versionId} and status = 'active'`;
        }
        await tx`delete from document_versions where version_id = ${versionId}`;
      });
    },

    async head(documentId: string): Promise<DocumentHead | undefined> {
      const [h] = await sql<HeadRow[]>`select * from document_heads where id = ${documentId}`;
      return h ? toHead(h) : undefined;
    },

    async version(versionId: string): Promise<DocumentVersion | undefined> {
      const [v] = await sql<VersionRow[]>`select * from document_versions where version_id = ${versionId}`;
      return v ? toVersion(v) : undefined;
    },

    async versionsOf(documentId: string): Promise<DocumentVersion[]> {
      const rows = await sql<VersionRow[]>`select * from document_versions where document_id = ${documentId} order by version`;
      return rows.map(toVersion);
    },

    async markDeleting(documentId, legacy, sagaId) {
      return sql.begin(async (tx) => {
        if (legacy) {
          // A document committed before heads existed (or by an older worker): give it version 1 now.
          await tx`insert into document_heads (id, current_version_id, version, status) values (${documentId}, ${legacy.versionId}, 1, 'active') on conflict do nothing`;
          await tx`insert into document_versions (version_id, document_id, version, saga_id, operation_id, status)
                   values (${legacy.versionId}, ${documentId}, 1, ${legacy.sagaId}, ${legacy.operationId}, 'current') on conflict do nothing`;
        }
        const [h] = await tx<HeadRow[]>`
          update document_heads set status = 'deleting', delete_saga_id = ${sagaId}, updated_at = now()
          where id = ${documentId} and status <> 'deleted'
          returning *`;
        return h ? toHead(h) : undefined;
      });
    },

    async markDeleted(documentId: string): Promise<void> {
      await sql`update document_heads set status = 'deleted', deleted_at = coalesce(deleted_at, now()), updated_at = now() where id = ${documentId}`;
    },

    async markRemoving(versionIds, sagaId) {
      if (versionIds.length === 0) return;
      await sql`update document_versions set status = 'removing', remove_saga_id = ${sagaId}
                where version_id = any(${[...versionIds]}::uuid[]) and status <> 'removed'`;
    },

    async markRemoved(versionIds) {
      if (versionIds.length === 0) return;
      await sql`update document_versions set status = 'removed', removed_at = coalesce(removed_at, now()) where version_id = any(${[...versionIds]}::uuid[])`;
    },
  } satisfies DocumentVersions;
  return versions;
}

function toHead(h: HeadRow): DocumentHead {
  return {
    id: h.id,
    currentVersionId: h.current_version_id,
    version: h.version,
    status: h.status,
    deleteSagaId: h.delete_saga_id,
    createdAt: toDate(h.created_at),
    updatedAt: toDate(h.updated_at),
    deletedAt: h.deleted_at === null ? null : toDate(h.deleted_at),
  };
}

function toVersion(v: VersionRow): DocumentVersion {
  return {
    versionId: v.version_id,
    documentId: v.document_id,
    version: v.version,
    previousVersionId: v.previous_version_id,
    sagaId: v.saga_id,
    operationId: v.operation_id,
    status: v.status,
    removeSagaId: v.remove_saga_id,
    committedAt: toDate(v.committed_at),
    supersededAt: v.superseded_at === null ? null : toDate(v.superseded_at),
    removedAt: v.removed_at === null ? null : toDate(v.removed_at),
  };
}

// A timestamp as postgres.js hands it over: a Date, or its text when the pool does not parse that type.
function toDate(v: Date | string): Date {
  return v instanceof Date ? v : new Date(v);
}
