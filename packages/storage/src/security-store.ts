// The security and identity store: a document's UUID, content hash, classification and requester, with an append-only audit trail.
import { randomUUID } from 'node:crypto';
import { asc, eq, sql as raw } from 'drizzle-orm';
import type { Sql } from 'postgres';
import { StorageError } from './errors.ts';
import { storageDb } from './db.ts';
import { type DatabaseStoreOptions, createDatabaseGuard } from './database-guard.ts';
import { assertDocumentId } from './document-id.ts';
import { isSha256Hex } from './checksums.ts';
import { InvalidOptionError } from './errors.ts';
import { securityAudit, securityRecords } from './schema/security.ts';

/** Options of createSecurityStore. */
export type SecurityStoreOptions = DatabaseStoreOptions;

/** A document's security record. */
export type SecurityRecord = typeof securityRecords.$inferSelect;
/** One audit trail entry. */
export type AuditEntry = typeof securityAudit.$inferSelect;

/** A security_records row as the register statement returns it (snake_case, timestamps as postgres.js parses them). */
interface RegisteredRow extends Record<string, unknown> {
  document_id: string;
  content_sha256: string;
  classification: string;
  requested_by: string;
  requested_at: Date | string;
  created_at: Date | string;
}

/** What register records; the document id is generated when omitted. */
export interface SecurityRegistration {
  documentId?: string;
  /** Hex SHA-256 of the document's content (the verified upload's hash). */
  contentSha256: string;
  classification: string;
  requestedBy: string;
  /** Default: now. */
  requestedAt?: Date;
}

/** The security store's operations. */
export interface SecurityStore {
  /** Records the document's identity once and audits it; registering the same identity again is a no-op, a different one DOCUMENT_CONFLICT. */
  register(input: SecurityRegistration): Promise<SecurityRecord>;
  /** Deletes the record and audits the removal; false (and no audit entry) if there was none. Idempotent. */
  remove(documentId: string, actor?: string): Promise<boolean>;
  /** The record, or undefined. */
  get(documentId: string): Promise<SecurityRecord | undefined>;
  /** Appends an audit entry (e.g. 'committed', 'failed'). */
  audit(documentId: string, action: string, actor: string, details?: Record<string, unknown>): Promise<void>;
  /** The document's audit trail, oldest first; it outlives the record. */
  auditTrail(documentId: string): Promise<AuditEntry[]>;
}

/** Creates the security store over its own connection pool. */
export function createSecurityStore(sql: Sql, options: SecurityStoreOptions = {}): SecurityStore {
  const db = storageDb(sql);
  const guard = createDatabaseGuard('security', options);
  return {
    async register(input) {
      const documentId = input.documentId ?? randomUUID();
      assertDocumentId(documentId);
      if (!isSha256Hex(input.contentSha256)) throw new InvalidOptionError('contentSha256', 'expected a lowercase hex SHA-256');
      const record = {
        documentId,
        contentSha256: input.contentSha256,
        classification: input.classification,
        requestedBy: input.requestedBy,
        requestedAt: input.requestedAt ?? new Date(),
      };
      const details = JSON.stringify({ classification: input.classification, contentSha256: input.contentSha256 });
      return guard.run(
        'register document',
        async () => {
          // The record and its audit entry in one statement (atomic on its own): the first registration costs one round
          // trip, not a transaction of four.
          const inserted = await db.execute<RegisteredRow>(raw`with inserted as (
              insert into ${securityRecords} (document_id, content_sha256, classification, requested_by, requested_at)
              values (${documentId}, ${record.contentSha256}, ${record.classification}, ${record.requestedBy}, ${record.requestedAt.toISOString()}::timestamptz)
              on conflict do nothing
              returning *
            ), audited as (
              insert into ${securityAudit} (document_id, action, actor, details)
              select document_id, 'registered', ${input.requestedBy}, ${details}::jsonb from inserted
            )
            select document_id, content_sha256, classification, requested_by, requested_at, created_at from inserted`);
          const row = inserted[0];
          if (row) {
            return { documentId: row.document_id, contentSha256: row.content_sha256, classification: row.classification, requestedBy: row.requested_by, requestedAt: new Date(row.requested_at), createdAt: new Date(row.created_at) };
          }
          const [existing] = await db.select().from(securityRecords).where(eq(securityRecords.documentId, documentId));
          if (!existing || existing.contentSha256 !== input.contentSha256 || existing.classification !== input.classification) {
            throw new StorageError(
              'DOCUMENT_CONFLICT',
              `document ${documentId} is registered with sha256 ${existing?.contentSha256} and classification ${existing?.classification}`,
              { documentId },
            );
          }
          return existing;
        },
        documentId,
      );
    },

    async remove(documentId, actor = 'system') {
      assertDocumentId(documentId);
      return guard.run(
        'remove security record',
        () =>
          db.transaction(async (tx) => {
            const removed = await tx.delete(securityRecords).where(eq(securityRecords.documentId, documentId)).returning();
            if (removed.length === 0) return false;
            await tx.insert(securityAudit).values({ documentId, action: 'removed', actor, details: {} });
            return true;
          }),
        documentId,
      );
    },

    async get(documentId) {
      assertDocumentId(documentId);
      const rows = await guard.run('get security record', () => db.select().from(securityRecords).where(eq(securityRecords.documentId, documentId)), documentId);
      return rows[0];
    },

    async audit(documentId, action, actor, details = {}) {
      assertDocumentId(documentId);
      // A tagged template, not the builder: a small document's finalize step appends one (see hot-rows.ts).
      await guard.run('append audit entry', () => sql`insert into security_audit (document_id, action, actor, details) values (${documentId}, ${action}, ${actor}, ${JSON.stringify(details)}::jsonb)`, documentId);
    },

    async auditTrail(documentId) {
      assertDocumentId(documentId);
      return guard.run(
        'read audit trail',
        () => db.select().from(securityAudit).where(eq(securityAudit.documentId, documentId)).orderBy(asc(securityAudit.id)),
        documentId,
      );
    },
  };
}
