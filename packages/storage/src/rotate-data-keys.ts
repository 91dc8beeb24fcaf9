// Key rotation: re-wraps every data key still under another KEK with the active one. Chunks are not touched (they are
// encrypted under the data key, which does not change); the manifest object in the bucket is rewritten with the new
// wrapping first, then the row, so an interrupted rotation leaves both readable and a rerun finishes it.
import { and, asc, eq, gt, isNotNull, ne } from 'drizzle-orm';
import type { Logger } from 'pino';
import { StorageError, storageErrorCode } from './errors.ts';
import { withDatabaseErrors } from './classify-error.ts';
import type { StorageDb } from './db.ts';
import type { ChunkStore } from './chunk-store.ts';
import type { KeyProvider } from './key-provider.ts';
import { uploadOperations } from './schema/upload-operations.ts';
import { bucketManifestKey, readBucketManifest, writeBucketManifest } from './bucket-manifest.ts';

/** Collaborators of a rotation. */
export interface RotateDeps {
  db: StorageDb;
  chunkStore: ChunkStore;
  keyProvider: KeyProvider | undefined;
  pageSize: number;
  logger: Logger | undefined;
}

/** What a rotation did; `failed` names each operation left under its old key and why (never key material). */
export interface KeyRotationReport {
  activeKeyId: string;
  examined: number;
  rewrapped: number;
  manifestObjectsRewritten: number;
  failed: { operationId: string; code: string; message: string }[];
}

/** Re-wraps every operation's data key that is not under the active KEK. */
export async function rotateDataKeys(deps: RotateDeps): Promise<KeyRotationReport> {
  const active = deps.keyProvider?.activeKeyId();
  if (!deps.keyProvider || !active) throw new StorageError('KEY_UNAVAILABLE', 'key rotation needs an active key-encryption key (ENCRYPTION_ACTIVE_KEY_ID)');
  const provider = deps.keyProvider;
  const report: KeyRotationReport = { activeKeyId: active, examined: 0, rewrapped: 0, manifestObjectsRewritten: 0, failed: [] };
  let after = '';
  for (;;) {
    const page = await withDatabaseErrors('list operations to re-wrap', () =>
      deps.db
        .select({ id: uploadOperations.id, keyId: uploadOperations.keyId, wrappedKey: uploadOperations.wrappedKey, keyPrefix: uploadOperations.keyPrefix, status: uploadOperations.status })
        .from(uploadOperations)
        .where(and(isNotNull(uploadOperations.keyId), ne(uploadOperations.keyId, active), gt(uploadOperations.id, after)))
        .orderBy(asc(uploadOperations.id))
        .limit(deps.pageSize),
    );
    for (const op of page) {
      report.examined += 1;
      if (op.keyId === null || op.wrappedKey === null) continue;
      const context = { operationId: op.id };
      try {
        const dataKey = await provider.unwrap({ keyId: op.keyId, wrapped: op.wrappedKey }, context);
        let next;
        try {
          next = await provider.wrap(dataKey, context);
        } finally {
          dataKey.fill(0);
        }
        if (op.status === 'completed') {
          const key = bucketManifestKey(op.keyPrefix);
          const manifest = await readBucketManifest(deps.chunkStore, key);
          if (manifest?.encryption) {
            await writeBucketManifest(deps.chunkStore, { ...manifest, encryption: { ...manifest.encryption, keyId: next.keyId, wrappedKey: next.wrapped } });
            report.manifestObjectsRewritten += 1;
          }
        }
        // Compare-and-set: a concurrent rotation that won leaves this one with nothing to do.
        const updated = await withDatabaseErrors('store re-wrapped data key', () =>
          deps.db
            .update(uploadOperations)
            .set({ keyId: next.keyId, wrappedKey: next.wrapped })
            .where(and(eq(uploadOperations.id, op.id), eq(uploadOperations.keyId, op.keyId as string), eq(uploadOperations.wrappedKey, op.wrappedKey as string)))
            .returning({ id: uploadOperations.id }),
        );
        if (updated.length === 1) report.rewrapped += 1;
      } catch (err) {
        const code = storageErrorCode(err) ?? 'UNKNOWN';
        const message = err instanceof Error ? err.message : String(err);
        report.failed.push({ operationId: op.id, code, message });
        deps.logger?.error({ operationId: op.id, keyId: op.keyId, code }, 'could not re-wrap data key');
      }
    }
    const last = page[page.length - 1];
    if (!last || page.length < deps.pageSize) break;
    after = last.id;
  }
  deps.logger?.info({ activeKeyId: active, examined: report.examined, rewrapped: report.rewrapped, failed: report.failed.length }, 'key rotation finished');
  return report;
}
