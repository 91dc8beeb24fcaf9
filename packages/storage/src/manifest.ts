// Reads and writes upload operations and their manifest rows in PostgreSQL.
import { and, asc, eq, gt, notInArray, sql as raw } from 'drizzle-orm';
import { StorageError } from './errors.ts';
import { withDatabaseErrors } from './classify-error.ts';
import type { StorageDb } from './db.ts';
import { type UploadStatus, uploadOperations } from './schema/upload-operations.ts';
import { uploadChunks } from './schema/upload-chunks.ts';
import { CHUNK_COLUMNS, type ChunkRow, OPERATION_COLUMNS, type OperationRow, manifestRowOf, operationOf, rawSql } from './hot-rows.ts';

/** An upload operation row. */
export type OperationRecord = typeof uploadOperations.$inferSelect;
/** A manifest row: one stored chunk. */
export type ManifestRow = typeof uploadChunks.$inferSelect;
/** What a new operation row holds. */
export type NewOperation = Omit<typeof uploadOperations.$inferInsert, 'status' | 'sha256' | 'createdAt' | 'updatedAt'>;
/** What committing a chunk records. */
export type NewManifestRow = Omit<typeof uploadChunks.$inferInsert, 'createdAt'>;

/** The object's bytes as stored: the stored columns, or the source ones on rows whose chunk is stored as is. */
export function storedChecksums(row: {
  size: number;
  sha256: string;
  md5: string;
  storedSize?: number | null;
  storedSha256?: string | null;
  storedMd5?: string | null;
}): { size: number; sha256: string; md5: string } {
  return { size: row.storedSize ?? row.size, sha256: row.storedSha256 ?? row.sha256, md5: row.storedMd5 ?? row.md5 };
}

/** Counts over an operation's manifest. */
export interface ManifestStats {
  count: number;
  maxIndex: number;
  totalBytes: number;
}

/** Loads an operation, or undefined. */
export async function findOperation(db: StorageDb, operationId: string): Promise<OperationRecord | undefined> {
  return withDatabaseErrors('load upload operation', async () => {
    const rows = await db.select().from(uploadOperations).where(eq(uploadOperations.id, operationId));
    return rows[0];
  }, { operationId });
}

/** Inserts an operation unless its id exists; returns the row now stored (the new one or the existing one). */
export async function insertOperation(db: StorageDb, op: NewOperation): Promise<{ record: OperationRecord; created: boolean }> {
  return withDatabaseErrors('create upload operation', async () => {
    const sql = rawSql(db);
    const [inserted] = await sql<OperationRow[]>`
      insert into upload_operations as o (id, owner, source_path, source_size, source_mtime, chunk_size, key_prefix, compression_level, compression_min_savings, key_id, wrapped_key)
      values (${op.id}, ${op.owner}, ${op.sourcePath}, ${op.sourceSize}, ${op.sourceMtime.toISOString()}::timestamptz, ${op.chunkSize}, ${op.keyPrefix},
        ${op.compressionLevel ?? null}, ${op.compressionMinSavings ?? null}, ${op.keyId ?? null}, ${op.wrappedKey ?? null})
      on conflict (id) do nothing
      returning ${sql.unsafe(OPERATION_COLUMNS)}`;
    if (inserted) return { record: operationOf(inserted), created: true };
    const existing = await db.select().from(uploadOperations).where(eq(uploadOperations.id, op.id));
    if (!existing[0]) throw new StorageError('STORAGE_UNAVAILABLE', `upload operation ${op.id} vanished while being created`, { operationId: op.id });
    return { record: existing[0], created: false };
  }, { operationId: op.id });
}

/**
 * Records a stored chunk and marks the operation as moving; a row already there must describe the same bytes.
 * With `completeWith` (the whole-file SHA-256, known when this is the operation's last chunk to commit), the same
 * statement also completes the operation, as markCompleted would, if this row was inserted by it; returns whether it
 * did (false: not inserted here, or the operation no longer active; the caller then runs markCompleted as usual).
 */
export async function commitChunk(db: StorageDb, row: NewManifestRow, completeWith?: string): Promise<{ completed: boolean }> {
  return withDatabaseErrors('commit manifest row', async () => {
    // The row and the operation's liveness stamp in one statement (atomic on its own): one round trip a chunk, not a
    // transaction of four.
    const sql = rawSql(db);
    const insert = sql`
      insert into upload_chunks (operation_id, chunk_index, key, size, sha256, md5, codec, nonce, stored_size, stored_sha256, stored_md5)
      values (${row.operationId}, ${row.chunkIndex}, ${row.key}, ${row.size}, ${row.sha256}, ${row.md5}, ${row.codec ?? null}, ${row.nonce ?? null},
        ${row.storedSize ?? null}, ${row.storedSha256 ?? null}, ${row.storedMd5 ?? null})
      on conflict do nothing returning chunk_index`;
    const [result] =
      completeWith === undefined
        ? await sql<{ inserted: number; completed: number }[]>`
            with inserted as (${insert}), touched as (update upload_operations set updated_at = now() where id = ${row.operationId})
            select count(*)::int as inserted, 0 as completed from inserted`
        : // Completes only on top of a row this statement inserted: a row found already there (a duplicate delivery) is
          // checked below first, and then completion is markCompleted's, as it is for every other upload.
          await sql<{ inserted: number; completed: number }[]>`
            with inserted as (${insert}),
            completed as (update upload_operations set status = 'completed', sha256 = ${completeWith}, updated_at = now()
              where id = ${row.operationId} and status = 'active' and exists (select 1 from inserted) returning id)
            select (select count(*) from inserted)::int as inserted, (select count(*) from completed)::int as completed`;
    if (!result?.inserted) {
      // Someone (a duplicate delivery of the same step) committed this index first: fine if it is the same chunk.
      const [existing] = await db
        .select()
        .from(uploadChunks)
        .where(and(eq(uploadChunks.operationId, row.operationId), eq(uploadChunks.chunkIndex, row.chunkIndex)));
      // Encoding is deterministic (see chunk-codec.ts), so the same chunk also has the same stored bytes.
      const storedNow = storedChecksums(row);
      if (existing && (existing.sha256 !== row.sha256 || existing.size !== row.size || existing.key !== row.key || storedChecksums(existing).sha256 !== storedNow.sha256)) {
        throw new StorageError(
          'METADATA_CORRUPT',
          `chunk ${row.chunkIndex} of operation ${row.operationId} is already recorded with sha256 ${existing.sha256} (stored ${storedChecksums(existing).sha256}), now ${row.sha256} (stored ${storedNow.sha256})`,
          { operationId: row.operationId, chunkIndex: row.chunkIndex, key: row.key },
        );
      }
    }
    return { completed: result?.completed === 1 };
  }, { operationId: row.operationId, chunkIndex: row.chunkIndex });
}

/** The operation's current status, or undefined if it no longer exists. */
export async function operationStatus(db: StorageDb, operationId: string): Promise<UploadStatus | undefined> {
  return withDatabaseErrors('read upload status', async () => {
    const rows = await db.select({ status: uploadOperations.status }).from(uploadOperations).where(eq(uploadOperations.id, operationId));
    return rows[0]?.status;
  }, { operationId });
}

/** Moves an active operation to completed with its whole-file SHA-256; false if it was no longer active. */
export async function markCompleted(db: StorageDb, operationId: string, sha256: string): Promise<boolean> {
  return withDatabaseErrors('complete upload operation', async () => {
    const rows = await db
      .update(uploadOperations)
      .set({ status: 'completed', sha256, updatedAt: raw`now()` })
      .where(and(eq(uploadOperations.id, operationId), eq(uploadOperations.status, 'active')))
      .returning({ id: uploadOperations.id });
    return rows.length === 1;
  }, { operationId });
}

/** Moves an active operation to cancelled; returns the operation as it is afterwards (undefined if unknown). */
export async function markCancelled(db: StorageDb, operationId: string): Promise<OperationRecord | undefined> {
  return withDatabaseErrors('cancel upload operation', async () => {
    await db
      .update(uploadOperations)
      .set({ status: 'cancelled', updatedAt: raw`now()` })
      .where(and(eq(uploadOperations.id, operationId), eq(uploadOperations.status, 'active')));
    const rows = await db.select().from(uploadOperations).where(eq(uploadOperations.id, operationId));
    return rows[0];
  }, { operationId });
}

/**
 * Loads an operation with its manifest's counts in one statement (an upload run's first read), throwing
 * OPERATION_NOT_FOUND when there is none: one round trip instead of two.
 */
export async function requireOperationWithStats(db: StorageDb, operationId: string): Promise<{ op: OperationRecord; stats: ManifestStats }> {
  const sql = rawSql(db);
  const [row] = await withDatabaseErrors('load upload operation and manifest stats', () =>
    // count(column) skips the one all-null row the left join yields for an empty manifest.
    sql<(OperationRow & { count: number; max_index: number | null; total_bytes: string | null })[]>`
      select ${sql.unsafe(OPERATION_COLUMNS)}, count(c.chunk_index)::int as count, max(c.chunk_index) as max_index, sum(c.size) as total_bytes
      from upload_operations o left join upload_chunks c on c.operation_id = o.id
      where o.id = ${operationId} group by o.id`,
    { operationId },
  );
  if (!row) throw new StorageError('OPERATION_NOT_FOUND', `no upload operation ${operationId}`, { operationId });
  return { op: operationOf(row), stats: { count: row.count, maxIndex: row.max_index ?? -1, totalBytes: Number(row.total_bytes ?? 0) } };
}

/** An operation with the first page of its manifest, read together. */
export interface OperationWithFirstPage {
  op: OperationRecord;
  /** The first `pageSize` manifest rows in index order; shorter than a page means it is the whole manifest. */
  firstPage: ManifestRow[];
  /** The page size it was read with. */
  pageSize: number;
}

/**
 * Loads an operation and the first page of its manifest in one statement, throwing OPERATION_NOT_FOUND when there is
 * none: a small document's verification and publication need nothing more from the database.
 */
export async function requireOperationWithFirstPage(db: StorageDb, operationId: string, pageSize: number): Promise<OperationWithFirstPage> {
  // One operation row joined with at most a page of its chunks: the operation's columns repeat on each row, which for
  // a bounded page costs less than a second round trip.
  const sql = rawSql(db);
  const rows = await withDatabaseErrors('load upload operation and manifest', () =>
    sql<(OperationRow & ChunkRow)[]>`
      select ${sql.unsafe(OPERATION_COLUMNS)}, ${sql.unsafe(CHUNK_COLUMNS)}
      from upload_operations o left join upload_chunks c on c.operation_id = o.id
      where o.id = ${operationId} order by c.chunk_index limit ${pageSize}`,
    { operationId },
  );
  const first = rows[0];
  if (!first) throw new StorageError('OPERATION_NOT_FOUND', `no upload operation ${operationId}`, { operationId });
  const firstPage: ManifestRow[] = [];
  for (const row of rows) {
    const chunk = manifestRowOf(row);
    if (chunk) firstPage.push(chunk);
  }
  return { op: operationOf(first), firstPage, pageSize };
}

/** Whether the first page read is the whole manifest, so a caller may pass over it again from memory. */
export function isWholeManifest(read: OperationWithFirstPage): boolean {
  return read.firstPage.length < read.pageSize;
}

/** The manifest in index order, starting with the first page already read and streaming on from it when it was full. */
export async function* manifestRowsFrom(db: StorageDb, read: OperationWithFirstPage): AsyncGenerator<ManifestRow> {
  yield* read.firstPage;
  const last = read.firstPage[read.firstPage.length - 1];
  if (!last || isWholeManifest(read)) return;
  yield* manifestRows(db, read.op.id, read.pageSize, last.chunkIndex);
}

/** Streams an operation's manifest in index order (after index `after`), a page at a time, so no caller holds a huge manifest. */
export async function* manifestRows(db: StorageDb, operationId: string, pageSize = 1000, after = -1): AsyncGenerator<ManifestRow> {
  for (;;) {
    const page = await withDatabaseErrors('read manifest', () =>
      db
        .select()
        .from(uploadChunks)
        .where(and(eq(uploadChunks.operationId, operationId), gt(uploadChunks.chunkIndex, after)))
        .orderBy(asc(uploadChunks.chunkIndex))
        .limit(pageSize),
      { operationId },
    );
    yield* page;
    const last = page[page.length - 1];
    if (!last || page.length < pageSize) return;
    after = last.chunkIndex;
  }
}

/** Deletes manifest rows of an operation except those whose key is listed in `keep`. */
export async function deleteManifestRows(db: StorageDb, operationId: string, keep: readonly string[]): Promise<void> {
  await withDatabaseErrors('delete manifest rows', async () => {
    const where = keep.length
      ? and(eq(uploadChunks.operationId, operationId), notInArray(uploadChunks.key, [...keep]))
      : eq(uploadChunks.operationId, operationId);
    await db.delete(uploadChunks).where(where);
  }, { operationId });
}
