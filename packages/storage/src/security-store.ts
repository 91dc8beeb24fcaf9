// The security and identity store: a document's UUID, content hash, classification and requester, with an append-only audit trail.
import { randomUUID } from 'node:crypto';
import { asc, eq } from 'drizzle-orm';
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
      return guard.run(
        'register document',
        () =>
          db.transaction(async (tx) => {
            const [inserted] = await tx.insert(securityRecords).values(record).onConflictDoNothing().returning();
            if (inserted) {
              await tx.insert(securityAudit).values({
                documentId,
                action: 'registered',
                actor: input.requestedBy,
                details: { classification: input.classification, contentSha256: input.contentSha256 },
              });
              return inserted;
            }
            const [existing] = await tx.select().from(securityRecords).where(eq(securityRecords.documentId, documentId));
            if (!existing || existing.contentSha256 !== input.contentSha256 || existing.classification !== input.classification) {
              throw new StorageError(
                'DOCUMENT_CONFLICT',
                `document ${documentId} is registered with sha256 ${existing?.contentSha256} and classification ${existing?.classification}`,
                { documentId },
              );
            }
            return existing;
          }),
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
      await guard.run('append audit entry', () => db.insert(securityAudit).values({ documentId, action, actor, details }), documentId);
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
