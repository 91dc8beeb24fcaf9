// Retention of upload operations on the real S3 server and PostgreSQL: rows go only once nothing is stored under the prefix.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createUploader } from '../src/index.ts';
import { type StorageFixture, randomId, setUpStorage, writeRandomFile } from './support.ts';

const CHUNK = 8 * 1024;
let f: StorageFixture;

beforeAll(async () => {
  f = await setUpStorage({ listPageSize: 2 });
});
afterAll(async () => {
  await f?.close();
});

async function rowsOf(operationId: string): Promise<{ operation: number; manifest: number }> {
  const [r] = await f.sql<{ operation: number; manifest: number }[]>`
    select (select count(*)::int from upload_operations where id = ${operationId}) as operation,
           (select count(*)::int from upload_chunks where operation_id = ${operationId}) as manifest`;
  return r!;
}

describe('pruneOperation', () => {
  it('keeps an active operation and one with chunks stored; prunes row and manifest once the prefix is empty', async () => {
    // Manifest pages of 2, so the manifest rows go over several statements.
    const u = createUploader({ sql: f.sql, chunkStore: f.chunkStore, chunkSizeBytes: CHUNK, concurrency: 2, keyPrefix: f.prefix, manifestPageSize: 2 });
    const file = path.join(f.dir, `src-${randomId()}`);
    await writeRandomFile(file, 5 * CHUNK);
    const op = await u.createOperation({ owner: 'saga-prune', sourcePath: file });
    expect(await u.pruneOperation(op.id)).toBe('active');
    await u.upload(op.id);
    expect(await u.pruneOperation(op.id)).toBe('chunks_remain');
    expect(await rowsOf(op.id)).toEqual({ operation: 1, manifest: 5 });

    expect((await u.deleteOperationChunks(op.id)).failedDeletions).toEqual([]);
    expect(await rowsOf(op.id)).toEqual({ operation: 1, manifest: 0 });
    // A PUT that outlived the cleanup holds it back: the listing is the verification.
    await f.client.send(new PutObjectCommand({ Bucket: f.bucket, Key: `${op.keyPrefix}00000009`, Body: 'late' }));
    expect(await u.pruneOperation(op.id)).toBe('chunks_remain');
    expect((await u.deleteOperationChunks(op.id)).deletedCount).toBe(1);
    // Manifest rows whose objects are gone anyway (deleted behind the manifest's back) go with the operation.
    await f.sql`insert into upload_chunks (operation_id, chunk_index, key, size, sha256, md5)
                select ${op.id}, g, ${op.keyPrefix} || g, 1, 'x', 'y' from generate_series(0, 4) g`;
    expect(await u.pruneOperation(op.id)).toBe('pruned');
    expect(await rowsOf(op.id)).toEqual({ operation: 0, manifest: 0 });
    expect(await u.pruneOperation(op.id)).toBe('absent');
  });
});
