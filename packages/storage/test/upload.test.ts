// Streaming upload against the real S3 server and PostgreSQL: sizes at the edges, progress, cancellation, resume.
import { createHash } from 'node:crypto';
import { appendFile, mkdir, stat, symlink, truncate, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { type ChunkStore, type UploadProgress, createUploader, identifySource, isRetryableStorageError } from '../src/index.ts';
import { type StorageFixture, errorOf, hashStream, randomId, setUpStorage, writeRandomFile } from './support.ts';

const KiB = 1024;
let f: StorageFixture;

beforeAll(async () => {
  f = await setUpStorage();
});
afterAll(async () => {
  await f?.close();
});

function uploader(chunkSizeBytes = 64 * KiB, concurrency = 3) {
  return createUploader({ sql: f.sql, chunkStore: f.chunkStore, chunkSizeBytes, concurrency, keyPrefix: f.prefix });
}

async function keysUnder(prefix: string): Promise<string[]> {
  const out = await f.client.send(new ListObjectsV2Command({ Bucket: f.bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!).sort();
}

async function roundTrip(size: number, chunkSize: number) {
  const u = uploader(chunkSize);
  const file = path.join(f.dir, `src-${randomId()}`);
  const sha256 = await writeRandomFile(file, size);
  const op = await u.createOperation({ owner: 'saga-1', sourcePath: file });
  const result = await u.upload(op.id);
  const report = await u.verify(op.id);
  const back = await hashStream(await u.openReadStream(op.id));
  return { u, op, file, sha256, result, report, back };
}

describe('upload', () => {
  it('uploads an empty file as zero chunks that verify and read back empty', async () => {
    const { op, result, report, back } = await roundTrip(0, 64 * KiB);
    const empty = createHash('sha256').digest('hex');
    expect(result).toMatchObject({ chunkCount: 0, totalBytes: 0, sha256: empty, chunksUploaded: 0 });
    expect(report).toMatchObject({ chunkCount: 0, totalBytes: 0, sha256: empty });
    expect(back).toEqual({ size: 0, sha256: empty });
    expect(await keysUnder(op.keyPrefix)).toEqual([]);
  });

  it('uploads a 1-byte file as one chunk', async () => {
    const { op, sha256, result, back } = await roundTrip(1, 64 * KiB);
    expect(result).toMatchObject({ chunkCount: 1, totalBytes: 1, sha256, chunksUploaded: 1 });
    expect(back).toEqual({ size: 1, sha256 });
    expect(await keysUnder(op.keyPrefix)).toEqual([`${op.keyPrefix}00000000`]);
  });

  // A one-chunk source's whole-file hash is its chunk's hash (the bytes are hashed once): it must still be the file's.
  it('records the file\'s sha256 for one chunk and for several: fresh, resumed over a stored chunk, and at the gate', async () => {
    for (const [size, chunks] of [[64 * KiB, 1], [64 * KiB - 3, 1], [64 * KiB + 1, 2]] as const) {
      const { u, op, sha256, result, report } = await roundTrip(size, 64 * KiB);
      expect(result).toMatchObject({ chunkCount: chunks, sha256 });
      expect(report.sha256).toBe(sha256);
      // The process died after the last commit and before completion: the rerun re-hashes the stored chunks from the source.
      await f.sql`update upload_operations set status = 'active', sha256 = null where id = ${op.id}`;
      expect(await u.upload(op.id)).toMatchObject({ chunksUploaded: 0, chunksSkipped: chunks, sha256 });
      expect(await u.getOperation(op.id)).toMatchObject({ status: 'completed', sha256 });
    }
  });

  it('uploads a size that is an exact multiple of the chunk size without an empty tail chunk', async () => {
    const { u, op, sha256, result, report, back } = await roundTrip(4 * 64 * KiB, 64 * KiB);
    expect(result).toMatchObject({ chunkCount: 4, sha256, chunksUploaded: 4 });
    expect(report.sha256).toBe(sha256);
    expect(back).toEqual({ size: 4 * 64 * KiB, sha256 });
    const rows = [];
    for await (const row of u.listManifest(op.id)) rows.push(row);
    expect(rows.map((r) => [r.chunkIndex, r.size])).toEqual([[0, 65536], [1, 65536], [2, 65536], [3, 65536]]);
    expect(await keysUnder(op.keyPrefix)).toEqual(rows.map((r) => r.key));
  });

  it('uploads a short last chunk and records the whole-file hash on the operation', async () => {
    const { u, op, sha256, result, back } = await roundTrip(3 * 64 * KiB + 17, 64 * KiB);
    expect(result).toMatchObject({ chunkCount: 4, totalBytes: 3 * 64 * KiB + 17, sha256 });
    expect(back.sha256).toBe(sha256);
    expect(await u.getOperation(op.id)).toMatchObject({ status: 'completed', sha256 });
  });

  // The operation and the first manifest page come in one read; a longer manifest streams on after that page.
  it.each([1, 3, 4, 5])('reads back and publishes a four-chunk document with %i manifest rows a page', async (pageSize) => {
    const { op, sha256 } = await roundTrip(3 * 64 * KiB + 5, 64 * KiB);
    const u = createUploader({ sql: f.sql, chunkStore: f.chunkStore, chunkSizeBytes: 64 * KiB, keyPrefix: f.prefix, manifestPageSize: pageSize });
    expect(await hashStream(await u.openReadStream(op.id))).toEqual({ size: 3 * 64 * KiB + 5, sha256 });
    const key = await u.publishManifest(op.id, { documentId: 'd', metadata: {} });
    const out = await f.client.send(new GetObjectCommand({ Bucket: f.bucket, Key: key }));
    const manifest = JSON.parse(await out.Body!.transformToString()) as { sha256: string; chunks: { index: number }[] };
    expect(manifest.sha256).toBe(sha256);
    expect(manifest.chunks.map((c) => c.index)).toEqual([0, 1, 2, 3]);
  });

  it('returns a completed operation again without uploading anything', async () => {
    const { u, op, result } = await roundTrip(2 * 64 * KiB, 64 * KiB);
    const again = await u.upload(op.id);
    expect(again).toMatchObject({ sha256: result.sha256, chunksUploaded: 0, chunksSkipped: 2 });
  });

  it('reports progress after every chunk up to 100 %', async () => {
    const u = uploader(32 * KiB, 2);
    const file = path.join(f.dir, `src-${randomId()}`);
    await writeRandomFile(file, 10 * 32 * KiB);
    const op = await u.createOperation({ owner: 'saga-p', sourcePath: file });
    const events: UploadProgress[] = [];
    await u.upload(op.id, { onProgress: (p) => events.push(p) });
    expect(events).toHaveLength(10);
    expect(events.map((e) => e.bytesDone)).toEqual(events.map((_, i) => (i + 1) * 32 * KiB));
    expect(events.at(-1)).toMatchObject({ percent: 100, bytesTotal: 10 * 32 * KiB, chunksDone: 10, chunkCount: 10, phase: 'uploading' });
    expect(events.every((e) => e.bytesPerSecond >= 0)).toBe(true);
  });

  it('keeps uploading when a progress listener throws', async () => {
    const u = uploader(32 * KiB);
    const file = path.join(f.dir, `src-${randomId()}`);
    const sha256 = await writeRandomFile(file, 3 * 32 * KiB);
    const op = await u.createOperation({ owner: 'saga-t', sourcePath: file });
    const result = await u.upload(op.id, { onProgress: () => { throw new Error('listener bug'); } });
    expect(result.sha256).toBe(sha256);
  });
});

describe('operations', () => {
  it('createOperation is idempotent for the same id and refuses another source under that id', async () => {
    const u = uploader();
    const file = path.join(f.dir, `src-${randomId()}`);
    await writeRandomFile(file, 10);
    const id = `op-${randomId()}`;
    const a = await u.createOperation({ operationId: id, owner: 'saga-a', sourcePath: file });
    const b = await u.createOperation({ operationId: id, owner: 'saga-a', sourcePath: file });
    expect(b).toEqual(a);
    expect(a).toMatchObject({ id, status: 'active', sourceSize: 10, chunkSize: 64 * KiB, keyPrefix: `${f.prefix}${id}/` });
    const other = path.join(f.dir, `src-${randomId()}`);
    await writeRandomFile(other, 10);
    expect(await errorOf(() => u.createOperation({ operationId: id, owner: 'saga-a', sourcePath: other }))).toMatchObject({ code: 'OPERATION_CONFLICT' });
  });

  it('refuses a missing source, a bad id and an unknown operation with the right codes', async () => {
    const u = uploader();
    const missing = await errorOf(() => u.createOperation({ owner: 's', sourcePath: path.join(f.dir, 'nope') }));
    expect(missing).toMatchObject({ code: 'FILE_NOT_FOUND', retryable: false });
    expect(await errorOf(() => u.createOperation({ operationId: 'a/b', owner: 's', sourcePath: '/etc/hostname' }))).toMatchObject({ code: 'INVALID_OPTION' });
    expect(await errorOf(() => u.upload('no-such-op'))).toMatchObject({ code: 'OPERATION_NOT_FOUND' });
  });

  it('createOperation with a validated identity records it without opening the file; the upload refuses a file replaced since, unread', async () => {
    const u = uploader();
    const dir = path.join(f.dir, `root-${randomId()}`);
    await mkdir(dir);
    const file = path.join(dir, 'doc.bin');
    await writeRandomFile(file, 100);
    const source = await identifySource({ root: dir, path: file });
    // Swapped after validation for a symlink to a file outside the root whose atime is older than its mtime: any read moves it.
    const secret = path.join(f.dir, `secret-${randomId()}`);
    await writeFile(secret, 's'.repeat(100));
    await utimes(secret, new Date('2020-01-01'), new Date());
    const atime = (await stat(secret)).atimeMs;
    await unlink(file);
    await symlink(secret, file);
    const op = await u.createOperation({ owner: 'saga-i', sourcePath: file, source });
    expect(op).toMatchObject({ status: 'active', sourceSize: 100, sourceMtime: new Date(source.mtimeMs) });
    expect(await errorOf(() => u.upload(op.id, { source }))).toMatchObject({ code: 'SOURCE_REPLACED' });
    expect((await stat(secret)).atimeMs).toBe(atime);
    expect(await keysUnder(op.keyPrefix)).toEqual([]);
  });

  it('createOperation with a validated identity records the size validated: a file grown since is SIZE_MISMATCH at the upload', async () => {
    const u = uploader();
    const file = path.join(f.dir, `src-${randomId()}`);
    await writeRandomFile(file, 100);
    const source = await identifySource({ root: f.dir, path: file });
    await appendFile(file, 'more');
    const op = await u.createOperation({ owner: 'saga-g', sourcePath: file, source });
    expect(op.sourceSize).toBe(100);
    expect(await errorOf(() => u.upload(op.id, { source }))).toMatchObject({ code: 'SIZE_MISMATCH' });
  });

  it('validates options at construction', () => {
    expect(() => createUploader({ sql: f.sql, chunkStore: f.chunkStore, chunkSizeBytes: 0 })).toThrow(/chunkSizeBytes/);
    expect(() => createUploader({ sql: f.sql, chunkStore: f.chunkStore, concurrency: 1.5 })).toThrow(/concurrency/);
    expect(() => createUploader({ sql: f.sql, chunkStore: f.chunkStore, keyPrefix: 'no-slash' })).toThrow(/keyPrefix/);
  });
});

describe('cancellation and source changes', () => {
  it('stops between chunks when the signal aborts, then resumes without re-uploading stored chunks', async () => {
    const u = uploader(32 * KiB, 1);
    const file = path.join(f.dir, `src-${randomId()}`);
    const sha256 = await writeRandomFile(file, 8 * 32 * KiB);
    const op = await u.createOperation({ owner: 'saga-c', sourcePath: file });
    const controller = new AbortController();
    const err = await errorOf(() => u.upload(op.id, { signal: controller.signal, onProgress: (p) => p.chunksDone === 3 && controller.abort() }));
    expect(err).toMatchObject({ code: 'CANCELLED', retryable: false });
    const stored = await f.sql`select count(*)::int as n from upload_chunks where operation_id = ${op.id}`;
    expect(stored[0]!.n).toBe(3);
    const events: UploadProgress[] = [];
    const result = await u.upload(op.id, { onProgress: (p) => events.push(p) });
    expect(result).toMatchObject({ sha256, chunksSkipped: 3, chunksUploaded: 5, resumed: true });
    expect(events.filter((e) => e.phase === 'verifying')).toHaveLength(3);
    expect((await u.verify(op.id)).sha256).toBe(sha256);
  });

  it('cancelOperation stops a running upload at its next chunk and is idempotent', async () => {
    const u = uploader(32 * KiB, 1);
    const file = path.join(f.dir, `src-${randomId()}`);
    await writeRandomFile(file, 8 * 32 * KiB);
    const op = await u.createOperation({ owner: 'saga-x', sourcePath: file });
    let cancelling: Promise<unknown> | undefined;
    const err = await errorOf(() =>
      u.upload(op.id, {
        onProgress: (p) => {
          if (p.chunksDone === 2) cancelling = u.cancelOperation(op.id);
        },
      }),
    );
    await cancelling;
    expect(err).toMatchObject({ code: 'CANCELLED' });
    const stored = await f.sql`select count(*)::int as n from upload_chunks where operation_id = ${op.id}`;
    expect(stored[0]!.n).toBeLessThan(8);
    expect((await u.cancelOperation(op.id))?.status).toBe('cancelled');
    expect(await errorOf(() => u.upload(op.id))).toMatchObject({ code: 'CANCELLED' });
    expect(await u.cancelOperation('never-created')).toBeUndefined();
  });

  // A one-chunk upload completes the operation in its chunk's commit: only if the operation is still active.
  it('a one-chunk upload whose operation is cancelled during its PUT fails CANCELLED and leaves the operation cancelled', async () => {
    const file = path.join(f.dir, `src-${randomId()}`);
    await writeRandomFile(file, 1000);
    const id = `op-${randomId()}`;
    const cancelling: ChunkStore = { ...f.chunkStore, put: async (...args) => (await u.cancelOperation(id), f.chunkStore.put(...args)) };
    const u = createUploader({ sql: f.sql, chunkStore: cancelling, chunkSizeBytes: 64 * KiB, keyPrefix: f.prefix });
    await u.createOperation({ operationId: id, owner: 'saga-c1', sourcePath: file });
    expect(await errorOf(() => u.upload(id))).toMatchObject({ code: 'CANCELLED' });
    expect(await u.getOperation(id)).toMatchObject({ status: 'cancelled', sha256: null });
  });

  it('a one-chunk upload whose commit meets another chunk recorded at its index fails METADATA_CORRUPT and completes nothing', async () => {
    const file = path.join(f.dir, `src-${randomId()}`);
    await writeRandomFile(file, 1000);
    const id = `op-${randomId()}`;
    // Recorded while the PUT runs, after the run read the manifest as empty: describes other bytes than the source's.
    const racing: ChunkStore = {
      ...f.chunkStore,
      put: async (key, ...rest) => {
        await f.sql`insert into upload_chunks (operation_id, chunk_index, key, size, sha256, md5) values (${id}, 0, ${key}, 1000, ${'0'.repeat(64)}, ${'0'.repeat(32)})`;
        return f.chunkStore.put(key, ...rest);
      },
    };
    const u = createUploader({ sql: f.sql, chunkStore: racing, chunkSizeBytes: 64 * KiB, keyPrefix: f.prefix });
    await u.createOperation({ operationId: id, owner: 'saga-m1', sourcePath: file });
    expect(await errorOf(() => u.upload(id))).toMatchObject({ code: 'METADATA_CORRUPT', chunkIndex: 0 });
    expect(await u.getOperation(id)).toMatchObject({ status: 'active', sha256: null });
  });

  it('two deliveries of a one-chunk upload at once: one completes it with the file\'s hash, the other stops, one manifest row', async () => {
    const file = path.join(f.dir, `src-${randomId()}`);
    const sha256 = await writeRandomFile(file, 1000);
    let arrived = 0;
    let bothArrived!: () => void;
    const barrier = new Promise<void>((resolve) => (bothArrived = resolve));
    // Both PUT before either commits, so the second commit finds the first one's row.
    const meeting: ChunkStore = { ...f.chunkStore, put: async (...args) => { if (++arrived === 2) bothArrived(); await barrier; return f.chunkStore.put(...args); } };
    const u = createUploader({ sql: f.sql, chunkStore: meeting, chunkSizeBytes: 64 * KiB, keyPrefix: f.prefix });
    const op = await u.createOperation({ owner: 'saga-d1', sourcePath: file });
    const runs = await Promise.allSettled([u.upload(op.id), u.upload(op.id)]);
    expect(runs.filter((r) => r.status === 'fulfilled').map((r) => r.value.sha256)).toEqual([sha256]);
    expect(runs.filter((r) => r.status === 'rejected').map((r) => (r.reason as { code?: string }).code)).toEqual(['CANCELLED']);
    expect(await u.getOperation(op.id)).toMatchObject({ status: 'completed', sha256 });
    const rows = [];
    for await (const row of u.listManifest(op.id)) rows.push(row);
    expect(rows).toHaveLength(1);
    expect(await u.verify(op.id)).toMatchObject({ chunkCount: 1, sha256 });
  });

  it('catches a source modified in the uploaded prefix on resume, before uploading anything more', async () => {
    const u = uploader(32 * KiB, 1);
    const file = path.join(f.dir, `src-${randomId()}`);
    await writeRandomFile(file, 8 * 32 * KiB);
    const op = await u.createOperation({ owner: 'saga-m', sourcePath: file });
    const controller = new AbortController();
    await errorOf(() => u.upload(op.id, { signal: controller.signal, onProgress: (p) => p.chunksDone === 4 && controller.abort() }));
    // Same size, one byte changed inside chunk 1.
    const { open } = await import('node:fs/promises');
    const fh = await open(file, 'r+');
    await fh.write(Buffer.from([0x42 ^ 0xff]), 0, 1, 32 * KiB + 5);
    await fh.close();
    const err = await errorOf(() => u.upload(op.id));
    expect(err).toMatchObject({ code: 'HASH_MISMATCH', retryable: false, chunkIndex: 1 });
    expect(err.message).toContain(`${op.keyPrefix}00000001`);
    const stored = await f.sql`select count(*)::int as n from upload_chunks where operation_id = ${op.id}`;
    expect(stored[0]!.n).toBe(4);
  });

  it('fails with FILE_NOT_FOUND when the source is deleted during the upload', async () => {
    const u = uploader(32 * KiB, 1);
    const file = path.join(f.dir, `src-${randomId()}`);
    await writeRandomFile(file, 6 * 32 * KiB);
    const op = await u.createOperation({ owner: 'saga-d', sourcePath: file });
    let deleting: Promise<void> | undefined;
    const err = await errorOf(() => u.upload(op.id, { onProgress: (p) => { if (p.chunksDone === 1) deleting = unlink(file); } }));
    await deleting;
    expect(err).toMatchObject({ code: 'FILE_NOT_FOUND', retryable: false });
    expect(await errorOf(() => u.upload(op.id))).toMatchObject({ code: 'FILE_NOT_FOUND' });
  });

  it('fails with SIZE_MISMATCH when the source changes size', async () => {
    const u = uploader(32 * KiB, 1);
    const file = path.join(f.dir, `src-${randomId()}`);
    await writeRandomFile(file, 6 * 32 * KiB);
    const op = await u.createOperation({ owner: 'saga-s', sourcePath: file });
    let shrinking: Promise<void> | undefined;
    const err = await errorOf(() => u.upload(op.id, { onProgress: (p) => { if (p.chunksDone === 2) shrinking = truncate(file, 3 * 32 * KiB); } }));
    await shrinking;
    expect(err).toMatchObject({ code: 'SIZE_MISMATCH' });
    await writeFile(file, 'now something else');
    expect(await errorOf(() => u.upload(op.id))).toMatchObject({ code: 'SIZE_MISMATCH' });
  });
});

describe('resume from a damaged or gappy manifest', () => {
  async function partial(chunks: number, stopAfter: number) {
    const u = uploader(16 * KiB, 1);
    const file = path.join(f.dir, `src-${randomId()}`);
    const sha256 = await writeRandomFile(file, chunks * 16 * KiB);
    const op = await u.createOperation({ owner: 'saga-r', sourcePath: file });
    const controller = new AbortController();
    await errorOf(() => u.upload(op.id, { signal: controller.signal, onProgress: (p) => p.chunksDone === stopAfter && controller.abort() }));
    return { u, op, file, sha256 };
  }

  it('fills gaps left by commits that never happened (concurrent chunks commit out of order)', async () => {
    const { u, op, sha256 } = await partial(8, 5);
    await f.sql`delete from upload_chunks where operation_id = ${op.id} and chunk_index in (1, 3)`;
    const result = await u.upload(op.id);
    expect(result).toMatchObject({ sha256, chunksSkipped: 3, chunksUploaded: 5 });
    expect((await u.verify(op.id)).sha256).toBe(sha256);
    expect((await hashStream(await u.openReadStream(op.id))).sha256).toBe(sha256);
  });

  it('refuses a manifest row whose size does not fit the operation', async () => {
    const { u, op } = await partial(6, 3);
    await f.sql`update upload_chunks set size = size - 1 where operation_id = ${op.id} and chunk_index = 1`;
    expect(await errorOf(() => u.upload(op.id))).toMatchObject({ code: 'METADATA_CORRUPT', retryable: false, chunkIndex: 1 });
  });

  it('refuses a manifest row with an index beyond the source', async () => {
    const { u, op } = await partial(6, 2);
    await f.sql`insert into upload_chunks (operation_id, chunk_index, key, size, sha256, md5)
      values (${op.id}, 40, ${op.keyPrefix + '00000040'}, 16384, ${'0'.repeat(64)}, ${'0'.repeat(32)})`;
    expect(await errorOf(() => u.upload(op.id))).toMatchObject({ code: 'METADATA_CORRUPT' });
  });

  it('refuses a manifest written with another chunk size', async () => {
    const { u, op } = await partial(6, 2);
    await f.sql`update upload_operations set chunk_size = 8192 where id = ${op.id}`;
    expect(await errorOf(() => u.upload(op.id))).toMatchObject({ code: 'METADATA_CORRUPT' });
  });
});

describe('errors', () => {
  it('classifies retryable errors by code, also after serialization', () => {
    expect(isRetryableStorageError({ name: 'StorageError', code: 'STORAGE_UNAVAILABLE' })).toBe(true);
    expect(isRetryableStorageError(JSON.parse(JSON.stringify({ name: 'StorageError', code: 'CIRCUIT_OPEN', retryable: true })))).toBe(true);
    expect(isRetryableStorageError({ name: 'StorageError', code: 'HASH_MISMATCH' })).toBe(false);
    expect(isRetryableStorageError(Object.assign(new Error('x'), { code: 'ETIMEDOUT' }))).toBe(false);
    expect(isRetryableStorageError(undefined)).toBe(false);
  });
});
