// S3 faults as the SDK really sees them, through the testkit's S3 fault proxy in front of s3rver: refused deletes,
// throttling, a stalled PUT, and the request log proving a resume PUTs only what is missing.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type S3FaultProxy, S3_SLOW_DOWN, startS3FaultProxy } from '@ingest/testkit';
import { type ChunkStore, type Uploader, createChunkStore, createS3Client, createUploader, readS3Settings } from '../src/index.ts';
import { type StorageFixture, errorOf, randomId, setUpStorage, writeRandomFile } from './support.ts';

const CHUNK = 16 * 1024;
let f: StorageFixture;
let proxy: S3FaultProxy;
let store: ChunkStore;
let client: ReturnType<typeof createS3Client>;
let u: Uploader;

beforeAll(async () => {
  f = await setUpStorage();
  const settings = readS3Settings();
  proxy = await startS3FaultProxy({ target: settings.endpoint! });
  client = createS3Client({ ...settings, endpoint: proxy.endpoint });
  // A breaker that does not open on the faults injected here.
  store = createChunkStore({ client, bucket: settings.bucket, breaker: { volumeThreshold: 1000 } });
  u = createUploader({ sql: f.sql, chunkStore: store, chunkSizeBytes: CHUNK, concurrency: 2, keyPrefix: f.prefix });
});
afterAll(async () => {
  store?.close();
  client?.destroy();
  await proxy?.close();
  await f?.close();
});

async function operation(chunks: number) {
  const file = path.join(f.dir, `src-${randomId()}`);
  const sha256 = await writeRandomFile(file, chunks * CHUNK);
  const op = await u.createOperation({ owner: 'saga-f', sourcePath: file });
  return { op, sha256, key: (i: number) => `${op.keyPrefix}${String(i).padStart(8, '0')}` };
}

describe('through the S3 fault proxy', () => {
  it('reports exactly the keys whose deletes the server refused, with its error, and finishes once it accepts them', async () => {
    const { op, key } = await operation(5);
    await u.upload(op.id);
    const refusal = proxy.refuseDeletesFor([key(0), key(3)]);
    const report = await u.deleteOperationChunks(op.id);
    expect(report).toMatchObject({ totalChunks: 5, deletedCount: 3 });
    expect(report.successRate).toBeCloseTo(0.6);
    expect(report.failedDeletions.map((d) => d.key)).toEqual([key(0), key(3)]);
    expect(report.failedDeletions[0]!.error).toMatch(/AccessDenied/);
    refusal.remove();
    expect(await u.deleteOperationChunks(op.id)).toEqual({ deletedCount: 2, totalChunks: 2, failedDeletions: [], successRate: 1 });
  });

  it('fails a throttled upload as retryable STORAGE_UNAVAILABLE and resumes it later without PUTting stored chunks again', async () => {
    const { op, sha256, key } = await operation(6);
    // More SlowDown answers than the SDK's own attempts (3): the error reaches the uploader.
    const rule = proxy.failWhen({ kind: 'put', key: key(4), times: 3, action: S3_SLOW_DOWN });
    const err = await errorOf(() => u.upload(op.id));
    expect(err).toMatchObject({ code: 'STORAGE_UNAVAILABLE', retryable: true, key: key(4) });
    rule.remove();
    const committed = (await f.sql<{ key: string }[]>`select key from upload_chunks where operation_id = ${op.id}`).map((r) => r.key);
    expect(committed).not.toContain(key(4));

    const before = proxy.requests().length;
    const result = await u.upload(op.id);
    expect(result).toMatchObject({ sha256, chunksSkipped: committed.length, chunksUploaded: 6 - committed.length });
    const puts = proxy.requests().slice(before).filter((r) => r.kind === 'put').map((r) => r.key).sort();
    const missing = [0, 1, 2, 3, 4, 5].map(key).filter((k) => !committed.includes(k));
    expect(puts).toEqual(missing);
    expect((await u.verify(op.id)).sha256).toBe(sha256);
  });

  it('aborts a PUT the server never answers after the call deadline, as retryable TIMEOUT', async () => {
    const { op, key } = await operation(2);
    const impatient = createChunkStore({ client, bucket: f.bucket, callTimeoutMs: 1_000 });
    const rule = proxy.failWhen({ kind: 'put', key: key(1), action: { type: 'stall' } });
    try {
      const uploader = createUploader({ sql: f.sql, chunkStore: impatient, chunkSizeBytes: CHUNK, keyPrefix: f.prefix });
      expect(await errorOf(() => uploader.upload(op.id))).toMatchObject({ code: 'TIMEOUT', retryable: true, key: key(1) });
    } finally {
      rule.remove();
      impatient.close();
    }
  });
});
