// A real upload process killed with SIGKILL mid-upload; the next upload resumes from the manifest.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createLocalKeyProvider, createUploader } from '../src/index.ts';
import { type StorageFixture, hashStream, randomId, s3rverDirectory, setUpStorage, writeRandomFile, writeTextFile } from './support.ts';
import { type Child, startChild } from './child.ts';

const CHUNK = 256 * 1024;
const CHUNKS = 256;
let f: StorageFixture;
let child: Child | undefined;

beforeAll(async () => {
  f = await setUpStorage();
});
afterAll(async () => {
  child?.process.kill('SIGKILL');
  await f?.close();
});

describe('resume after a killed process', () => {
  it('uploads only the missing chunks, leaves stored ones untouched, and the result verifies byte-identical', async () => {
    const file = path.join(f.dir, 'source.bin');
    const sha256 = await writeRandomFile(file, CHUNKS * CHUNK);
    const operationId = `crash-${randomId()}`;
    child = startChild('upload-child', { databaseUrl: f.database.url, operationId, sourcePath: file, keyPrefix: f.prefix, chunkSizeBytes: CHUNK, concurrency: 4 });
    await child.waitForEvent((e) => e.event === 'progress' && Number(e.chunksDone) >= 8);
    child.process.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');

    const committed = await f.sql<{ key: string }[]>`select key from upload_chunks where operation_id = ${operationId} order by chunk_index`;
    expect(committed.length).toBeGreaterThanOrEqual(8);
    expect(committed.length).toBeLessThan(CHUNKS);
    // The server's own files of the committed chunks: a PUT again would rewrite them.
    const objectFile = (key: string) => path.join(s3rverDirectory(), f.bucket, `${key}._S3rver_object`);
    const before = await Promise.all(committed.map(async (r) => (await stat(objectFile(r.key))).mtimeMs));

    const u = createUploader({ sql: f.sql, chunkStore: f.chunkStore, keyPrefix: f.prefix });
    const result = await u.upload(operationId);
    expect(result).toMatchObject({ sha256, chunkCount: CHUNKS, chunksSkipped: committed.length, chunksUploaded: CHUNKS - committed.length, resumed: true });
    const after = await Promise.all(committed.map(async (r) => (await stat(objectFile(r.key))).mtimeMs));
    expect(after).toEqual(before);

    expect(await u.verify(operationId)).toMatchObject({ chunkCount: CHUNKS, totalBytes: CHUNKS * CHUNK, sha256 });
    expect(await hashStream(await u.openReadStream(operationId))).toEqual({ size: CHUNKS * CHUNK, sha256 });
    await u.deleteOperationChunks(operationId);
  });

  it('with compression and encryption: resumes from the manifest, never re-encrypts a committed chunk, reads back byte-identical', async () => {
    const file = path.join(f.dir, 'text.txt');
    const sha256 = await writeTextFile(file, CHUNKS * CHUNK);
    const operationId = `crash-enc-${randomId()}`;
    const kek = randomBytes(32);
    const encoding = { keys: `kek-1:${kek.toString('base64')}`, activeKeyId: 'kek-1', compressionLevel: 3, securityLevel: 'confidential' };
    // One chunk at a time keeps the kill inside the upload on a loaded machine: compressed chunks are quick to store.
    child = startChild('upload-child', { databaseUrl: f.database.url, operationId, sourcePath: file, keyPrefix: f.prefix, chunkSizeBytes: CHUNK, concurrency: 1, encoding });
    await child.waitForEvent((e) => e.event === 'progress' && Number(e.chunksDone) >= 8);
    child.process.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');

    const committed = await f.sql<{ key: string; nonce: string; stored_sha256: string; codec: string }[]>`
      select key, nonce, stored_sha256, codec from upload_chunks where operation_id = ${operationId} order by chunk_index`;
    expect(committed.length).toBeGreaterThanOrEqual(8);
    expect(committed.length).toBeLessThan(CHUNKS);
    expect(committed.every((r) => r.codec === 'zstd' && /^[0-9a-f]{24}$/.test(r.nonce))).toBe(true);
    const objectFile = (key: string) => path.join(s3rverDirectory(), f.bucket, `${key}._S3rver_object`);
    const before = await Promise.all(committed.map(async (r) => (await stat(objectFile(r.key))).mtimeMs));

    const keyProvider = createLocalKeyProvider({ keys: new Map([['kek-1', kek]]), activeKeyId: 'kek-1' });
    const u = createUploader({ sql: f.sql, chunkStore: f.chunkStore, keyPrefix: f.prefix, encoding: { compressionLevel: 3, keyProvider } });
    const result = await u.upload(operationId);
    expect(result).toMatchObject({ sha256, chunkCount: CHUNKS, chunksSkipped: committed.length, chunksUploaded: CHUNKS - committed.length, resumed: true });
    expect(await Promise.all(committed.map(async (r) => (await stat(objectFile(r.key))).mtimeMs))).toEqual(before);
    const afterRows = await f.sql<{ key: string; nonce: string; stored_sha256: string; codec: string }[]>`
      select key, nonce, stored_sha256, codec from upload_chunks where operation_id = ${operationId} order by chunk_index limit ${committed.length}`;
    expect(afterRows).toEqual(committed);

    expect(await u.verify(operationId)).toMatchObject({ chunkCount: CHUNKS, totalBytes: CHUNKS * CHUNK, sha256 });
    expect(await hashStream(await u.openReadStream(operationId))).toEqual({ size: CHUNKS * CHUNK, sha256 });
    await u.deleteOperationChunks(operationId);
  });
});
