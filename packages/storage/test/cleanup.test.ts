// Verified cleanup on the real S3 server: manifest chunks and orphans under the prefix, refused deletes reported exactly.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { type ListedObject, createUploader } from '../src/index.ts';
import { type StorageFixture, randomId, s3rverDirectory, setUpStorage, writeRandomFile } from './support.ts';

const CHUNK = 8 * 1024;
let f: StorageFixture;

beforeAll(async () => {
  f = await setUpStorage({ deleteBatchSize: 3, listPageSize: 2 });
});
afterAll(async () => {
  await f?.close();
});

async function uploaded(chunks: number) {
  const u = createUploader({ sql: f.sql, chunkStore: f.chunkStore, chunkSizeBytes: CHUNK, concurrency: 2, keyPrefix: f.prefix });
  const file = path.join(f.dir, `src-${randomId()}`);
  await writeRandomFile(file, chunks * CHUNK);
  const op = await u.createOperation({ owner: 'saga-del', sourcePath: file });
  await u.upload(op.id);
  return { u, op };
}

async function listAll(prefix: string): Promise<ListedObject[]> {
  const out: ListedObject[] = [];
  for await (const o of f.chunkStore.list(prefix)) out.push(o);
  return out;
}

describe('deleteOperationChunks', () => {
  it('deletes manifest chunks and orphans under the prefix, verifies, and is idempotent', async () => {
    const { u, op } = await uploaded(7);
    // A chunk whose PUT succeeded but whose manifest row never committed (crash in between).
    const orphan = `${op.keyPrefix}00000007`;
    await f.client.send(new PutObjectCommand({ Bucket: f.bucket, Key: orphan, Body: 'orphan' }));
    // Listing pages through (page size 2 here) and reports sizes and dates for the reaper.
    const listed = await listAll(op.keyPrefix);
    expect(listed).toHaveLength(8);
    expect(listed.find((o) => o.key === orphan)).toMatchObject({ size: 6 });
    expect(listed.every((o) => o.lastModified.getTime() > 0)).toBe(true);

    const report = await u.deleteOperationChunks(op.id);
    expect(report).toEqual({ deletedCount: 8, totalChunks: 8, failedDeletions: [], successRate: 1 });
    expect(await listAll(op.keyPrefix)).toEqual([]);
    const rows = await f.sql`select count(*)::int as n from upload_chunks where operation_id = ${op.id}`;
    expect(rows[0]!.n).toBe(0);

    expect(await u.deleteOperationChunks(op.id)).toEqual({ deletedCount: 0, totalChunks: 0, failedDeletions: [], successRate: 1 });
    expect(await u.deleteOperationChunks('never-created')).toEqual({ deletedCount: 0, totalChunks: 0, failedDeletions: [], successRate: 1 });
  });

  it('cancels an active operation before deleting its chunks', async () => {
    const u = createUploader({ sql: f.sql, chunkStore: f.chunkStore, chunkSizeBytes: CHUNK, keyPrefix: f.prefix });
    const file = path.join(f.dir, `src-${randomId()}`);
    await writeRandomFile(file, 3 * CHUNK);
    const op = await u.createOperation({ owner: 'saga-del', sourcePath: file });
    await u.deleteOperationChunks(op.id);
    expect((await u.getOperation(op.id))?.status).toBe('cancelled');
  });

  it('reports exactly the chunks the server failed to delete, keeps their manifest rows, and finishes on retry', async (ctx) => {
    const { u, op } = await uploaded(6);
    // Make s3rver's own unlink fail for two objects: immutable files cannot be removed, even by root.
    const objectFile = (i: number) => path.join(s3rverDirectory(), f.bucket, op.keyPrefix, `${String(i).padStart(8, '0')}._S3rver_object`);
    const stuck = [1, 4].map(objectFile);
    try {
      execFileSync('chattr', ['+i', ...stuck], { stdio: 'pipe' });
    } catch (err) {
      ctx.skip(`chattr +i not supported here: ${(err as Error).message}`);
    }
    try {
      const report = await u.deleteOperationChunks(op.id);
      expect(report.totalChunks).toBe(6);
      expect(report.deletedCount).toBe(4);
      expect(report.successRate).toBeCloseTo(4 / 6);
      expect(report.failedDeletions.map((d) => d.key)).toEqual([`${op.keyPrefix}00000001`, `${op.keyPrefix}00000004`]);
      expect(report.failedDeletions.every((d) => d.error.length > 0)).toBe(true);
      const rows = await f.sql`select key from upload_chunks where operation_id = ${op.id} order by chunk_index`;
      expect(rows.map((r) => r.key)).toEqual(report.failedDeletions.map((d) => d.key));
    } finally {
      execFileSync('chattr', ['-i', ...stuck], { stdio: 'pipe' });
    }
    expect(await u.deleteOperationChunks(op.id)).toEqual({ deletedCount: 2, totalChunks: 2, failedDeletions: [], successRate: 1 });
    expect(await listAll(op.keyPrefix)).toEqual([]);
  });
});
