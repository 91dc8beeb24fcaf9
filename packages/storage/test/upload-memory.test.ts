// The upload's memory is bounded by chunk size × concurrency whatever the file size: a 512 MiB file in a child process.
import { createHash, randomBytes } from 'node:crypto';
import { truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUploader } from '../src/index.ts';
import { type StorageFixture, randomId, setUpStorage } from './support.ts';
import { type Child, startChild } from './child.ts';

const MiB = 1024 * 1024;
let f: StorageFixture;
let child: Child | undefined;

beforeAll(async () => {
  f = await setUpStorage();
});
afterAll(async () => {
  child?.process.kill('SIGKILL');
  await f?.close();
});

describe('upload memory', () => {
  // Throughput-bound work whose assertion is about memory: a busy machine may make it slow, never wrong.
  it('uploads and verifies a 512 MiB file adding at most chunk × concurrency + 64 MB to the process', async () => {
    const size = 512 * MiB;
    const file = path.join(f.dir, 'sparse.bin');
    await writeFile(file, '');
    await truncate(file, size);
    const zeros = Buffer.alloc(8 * MiB);
    const expected = createHash('sha256');
    for (let i = 0; i < size / zeros.length; i++) expected.update(zeros);
    const operationId = `mem-${randomId()}`;
    // Defaults: 8 MiB chunks, 4 in flight.
    child = startChild('upload-child', { databaseUrl: f.database.url, operationId, sourcePath: file, keyPrefix: f.prefix, verify: true });
    const done = await child.waitForEvent((e) => e.event === 'done' || e.event === 'error');
    expect(done.event, JSON.stringify(done)).toBe('done');
    const result = done.result as { chunkCount: number; sha256: string; chunksUploaded: number };
    expect(result).toMatchObject({ chunkCount: 64, chunksUploaded: 64, sha256: expected.digest('hex') });
    // The process's start-up RSS (tsx, the SDK, drizzle's ESM build) is not the upload's doing; the child
    // resets its peak after start-up, so peak - baseline is what the upload and the gate added.
    const mb = (kb: unknown) => (Number(kb) * 1024) / 1e6;
    const added = mb(done.peakRssKb) - mb(done.baselineRssKb);
    const bound = (8 * MiB * 4) / 1e6 + 64;
    console.info(
      `512 MiB upload+verify: start-up peak ${mb(done.startupPeakKb).toFixed(0)} MB, baseline ${mb(done.baselineRssKb).toFixed(0)} MB, ` +
        `peak ${mb(done.peakRssKb).toFixed(0)} MB, added ${added.toFixed(0)} MB (bound ${bound.toFixed(0)} MB)`,
    );
    expect(added).toBeGreaterThan(0);
    expect(added).toBeLessThan(bound);
    const u = createUploader({ sql: f.sql, chunkStore: f.chunkStore, keyPrefix: f.prefix });
    expect((await u.deleteOperationChunks(operationId)).failedDeletions).toEqual([]);
  }, 600_000);

  // Throughput-bound work whose assertion is about memory: a busy machine may make it slow, never wrong.
  it('encrypted: uploads 512 MiB adding at most 2 × chunk × concurrency + 96 MB, reads it back adding at most 3 chunks + 96 MB', async () => {
    const size = 512 * MiB;
    const file = path.join(f.dir, 'sparse-encrypted.bin');
    await writeFile(file, '');
    await truncate(file, size);
    const zeros = Buffer.alloc(8 * MiB);
    const expected = createHash('sha256');
    for (let i = 0; i < size / zeros.length; i++) expected.update(zeros);
    const sha256 = expected.digest('hex');
    const operationId = `mem-enc-${randomId()}`;
    // No compression: every chunk is a full-size ciphertext, the worst case for memory.
    const encoding = { keys: `k:${randomBytes(32).toString('base64')}`, activeKeyId: 'k', compressionLevel: 0, securityLevel: 'restricted' };
    child = startChild('upload-child', { databaseUrl: f.database.url, operationId, sourcePath: file, keyPrefix: f.prefix, verify: true, readBack: true, encoding });
    const done = await child.waitForEvent((e) => e.event === 'done' || e.event === 'error');
    expect(done.event, JSON.stringify(done)).toBe('done');
    expect(done.result).toMatchObject({ chunkCount: 64, chunksUploaded: 64, sha256 });
    expect(done.readBackSha256).toBe(sha256);
    const mb = (kb: unknown) => (Number(kb) * 1024) / 1e6;
    // Upload and gate: each chunk in flight exists as source and as ciphertext. Read-back: one stored and one decrypted chunk.
    const uploadAdded = mb(done.uploadPeakRssKb) - mb(done.baselineRssKb);
    const readAdded = mb(done.peakRssKb) - mb(done.readBackBaselineKb);
    // GCM's update() output pieces are short-lived buffers outside the V8 heap, which V8 collects only once about 64 MB
    // of them accumulate: 32 MB more slack than the plain upload's bound. A leak that grows with the file (512 MiB) still fails.
    const uploadBound = (2 * 8 * MiB * 4) / 1e6 + 96;
    const readBound = (3 * 8 * MiB) / 1e6 + 96;
    console.info(
      `512 MiB encrypted: upload added ${uploadAdded.toFixed(0)} MB (bound ${uploadBound.toFixed(0)}), read-back added ${readAdded.toFixed(0)} MB (bound ${readBound.toFixed(0)})`,
    );
    expect(uploadAdded).toBeGreaterThan(0);
    expect(uploadAdded).toBeLessThan(uploadBound);
    expect(readAdded).toBeLessThan(readBound);
    const u = createUploader({ sql: f.sql, chunkStore: f.chunkStore, keyPrefix: f.prefix });
    expect((await u.deleteOperationChunks(operationId)).failedDeletions).toEqual([]);
  }, 600_000);
});
