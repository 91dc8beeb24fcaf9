// The upload's memory is bounded by chunk size × concurrency whatever the file size: a 512 MiB file in a child process.
import { createHash } from 'node:crypto';
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
});
