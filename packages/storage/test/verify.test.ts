// The integrity gate against what the real S3 server stored and what the source holds now.
import { open, truncate } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createUploader } from '../src/index.ts';
import { type StorageFixture, errorOf, hashStream, randomId, setUpStorage, writeRandomFile } from './support.ts';

const CHUNK = 16 * 1024;
let f: StorageFixture;

beforeAll(async () => {
  f = await setUpStorage();
});
afterAll(async () => {
  await f?.close();
});

async function uploaded(chunks = 5, extra = 100) {
  const u = createUploader({ sql: f.sql, chunkStore: f.chunkStore, chunkSizeBytes: CHUNK, concurrency: 2, keyPrefix: f.prefix });
  const file = path.join(f.dir, `src-${randomId()}`);
  const sha256 = await writeRandomFile(file, chunks * CHUNK + extra);
  const op = await u.createOperation({ owner: 'saga-v', sourcePath: file });
  await u.upload(op.id);
  return { u, op, file, sha256, key: (i: number) => `${op.keyPrefix}${String(i).padStart(8, '0')}` };
}

async function storedBytes(key: string): Promise<Buffer> {
  const out = await f.client.send(new GetObjectCommand({ Bucket: f.bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

describe('verify', () => {
  it('passes and reports count, size and hash of an intact upload', async () => {
    const { u, op, sha256 } = await uploaded();
    expect(await u.verify(op.id)).toEqual({ operationId: op.id, chunkCount: 6, totalBytes: 5 * CHUNK + 100, sha256 });
  });

  it('fails CHUNK_COUNT_MISMATCH naming the key when a chunk is gone from the server', async () => {
    const { u, op, key } = await uploaded();
    await f.client.send(new DeleteObjectCommand({ Bucket: f.bucket, Key: key(2) }));
    const err = await errorOf(() => u.verify(op.id));
    expect(err).toMatchObject({ code: 'CHUNK_COUNT_MISMATCH', retryable: false, key: key(2), chunkIndex: 2 });
    expect(err.message).toContain(key(2));
  });

  it('fails SIZE_MISMATCH with expected and actual sizes when the server holds a truncated chunk', async () => {
    const { u, op, key } = await uploaded();
    const bytes = await storedBytes(key(3));
    await f.client.send(new PutObjectCommand({ Bucket: f.bucket, Key: key(3), Body: bytes.subarray(0, 1000) }));
    const err = await errorOf(() => u.verify(op.id));
    expect(err).toMatchObject({ code: 'SIZE_MISMATCH', key: key(3) });
    expect(err.message).toMatch(new RegExp(`expected ${CHUNK} bytes, server stores 1000`));
    // Reading the document back notices it too, rather than returning a short document.
    expect(await errorOf(async () => hashStream(await u.openReadStream(op.id)))).toMatchObject({ code: 'SIZE_MISMATCH', key: key(3) });
  });

  it('fails HASH_MISMATCH when the server holds different bytes of the same length', async () => {
    const { u, op, key } = await uploaded();
    const bytes = await storedBytes(key(1));
    bytes[10] = bytes[10]! ^ 0xff;
    await f.client.send(new PutObjectCommand({ Bucket: f.bucket, Key: key(1), Body: bytes }));
    const err = await errorOf(() => u.verify(op.id));
    expect(err).toMatchObject({ code: 'HASH_MISMATCH', key: key(1) });
    expect(err.message).toMatch(/expected (md5|sha256) [0-9a-f]+, server reports [0-9a-f]+/);
    expect(await errorOf(async () => hashStream(await u.openReadStream(op.id)))).toMatchObject({ code: 'HASH_MISMATCH', key: key(1) });
  });

  it('fails HASH_MISMATCH naming the chunk when the source was modified after the upload', async () => {
    const { u, op, file, key } = await uploaded();
    const fh = await open(file, 'r+');
    await fh.write(Buffer.from('tampered'), 0, 8, 4 * CHUNK + 7);
    await fh.close();
    const err = await errorOf(() => u.verify(op.id));
    expect(err).toMatchObject({ code: 'HASH_MISMATCH', chunkIndex: 4, key: key(4) });
    expect(err.message).toContain('was modified');
  });

  // A manifest shorter than a page is read once, with the operation, and passed over from memory; a longer one is
  // streamed page by page for each pass: both must reach every chunk of a six-chunk manifest.
  it.each([1, 5, 6, 7, 1000])('with %i manifest rows a page: passes intact, finds the last chunk gone on the server or modified in the source', async (pageSize) => {
    const paged = (u: { op: { id: string } }) =>
      createUploader({ sql: f.sql, chunkStore: f.chunkStore, chunkSizeBytes: CHUNK, keyPrefix: f.prefix, manifestPageSize: pageSize }).verify(u.op.id);
    const gone = await uploaded();
    expect(await paged(gone)).toMatchObject({ chunkCount: 6, sha256: gone.sha256 });
    await f.client.send(new DeleteObjectCommand({ Bucket: f.bucket, Key: gone.key(5) }));
    expect(await errorOf(() => paged(gone))).toMatchObject({ code: 'CHUNK_COUNT_MISMATCH', key: gone.key(5) });

    const modified = await uploaded();
    const fh = await open(modified.file, 'r+');
    await fh.write(Buffer.from('tampered'), 0, 8, 5 * CHUNK + 3);
    await fh.close();
    expect(await errorOf(() => paged(modified))).toMatchObject({ code: 'HASH_MISMATCH', chunkIndex: 5, key: modified.key(5) });
  });

  it('fails SIZE_MISMATCH when the source changed size, and FILE_NOT_FOUND when it is gone', async () => {
    const { u, op, file } = await uploaded();
    await truncate(file, 5 * CHUNK + 200);
    expect(await errorOf(() => u.verify(op.id))).toMatchObject({ code: 'SIZE_MISMATCH' });
    const { rm } = await import('node:fs/promises');
    await rm(file);
    expect(await errorOf(() => u.verify(op.id))).toMatchObject({ code: 'FILE_NOT_FOUND' });
  });

  it('fails CHUNK_COUNT_MISMATCH for an upload that stopped half-way, and UPLOAD_INCOMPLETE for a full manifest never completed', async () => {
    const u = createUploader({ sql: f.sql, chunkStore: f.chunkStore, chunkSizeBytes: CHUNK, concurrency: 1, keyPrefix: f.prefix });
    const file = path.join(f.dir, `src-${randomId()}`);
    await writeRandomFile(file, 4 * CHUNK);
    const op = await u.createOperation({ owner: 'saga-h', sourcePath: file });
    const controller = new AbortController();
    await errorOf(() => u.upload(op.id, { signal: controller.signal, onProgress: (p) => p.chunksDone === 2 && controller.abort() }));
    const err = await errorOf(() => u.verify(op.id));
    expect(err).toMatchObject({ code: 'CHUNK_COUNT_MISMATCH' });
    expect(err.message).toContain('manifest has 2 chunks');
    expect(await errorOf(() => u.openReadStream(op.id))).toMatchObject({ code: 'UPLOAD_INCOMPLETE' });

    // Every chunk committed, but the process died before recording completion and the whole-file hash.
    await u.upload(op.id);
    await f.sql`update upload_operations set status = 'active', sha256 = null where id = ${op.id}`;
    expect(await errorOf(() => u.verify(op.id))).toMatchObject({ code: 'UPLOAD_INCOMPLETE' });
  });
});
