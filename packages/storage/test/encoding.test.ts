// Encoding at rest against the real S3 server: adaptive zstd, AES-256-GCM under wrapped data keys, and every way
// stored bytes can be damaged or attacked, each detected with its reason code and never served as content.
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { type EncodingOptions, type KeyProvider, bucketManifestKey, createLocalKeyProvider, createUploader, recoverDocument } from '../src/index.ts';
import { type StorageFixture, errorOf, hashStream, randomId, setUpStorage, writeRandomFile, writeTextFile } from './support.ts';

const CHUNK = 64 * 1024;
let f: StorageFixture;
const k1 = randomBytes(32);
const k2 = randomBytes(32);
const provider = (keys: Record<string, Buffer>, activeKeyId?: string): KeyProvider =>
  createLocalKeyProvider({ keys: new Map(Object.entries(keys)), ...(activeKeyId ? { activeKeyId } : {}) });
const onK1 = provider({ k1 }, 'k1');

beforeAll(async () => {
  f = await setUpStorage();
});
afterAll(async () => {
  await f?.close();
});

function uploader(encoding: EncodingOptions = {}) {
  return createUploader({ sql: f.sql, chunkStore: f.chunkStore, chunkSizeBytes: CHUNK, concurrency: 3, keyPrefix: f.prefix, encoding });
}

/** Uploads a file of `kind` with `encoding`; the last chunk is short. */
async function uploaded(kind: 'text' | 'random', encoding: EncodingOptions, securityLevel?: string, chunks = 5) {
  const u = uploader(encoding);
  const file = path.join(f.dir, `src-${randomId()}`);
  const size = chunks * CHUNK + 1000;
  const sha256 = kind === 'text' ? await writeTextFile(file, size) : await writeRandomFile(file, size);
  const op = await u.createOperation({ owner: 'saga-e', sourcePath: file, ...(securityLevel ? { securityLevel } : {}) });
  await u.upload(op.id);
  return { u, op, file, size, sha256, key: (i: number) => `${op.keyPrefix}${String(i).padStart(8, '0')}` };
}

async function rows(operationId: string) {
  return f.sql<{ chunk_index: number; codec: string; nonce: string | null; size: number; stored_size: number | null; stored_sha256: string | null; stored_md5: string | null }[]>`
    select chunk_index, codec, nonce, size, stored_size, stored_sha256, stored_md5 from upload_chunks where operation_id = ${operationId} order by chunk_index`;
}

async function object(key: string): Promise<Buffer> {
  const out = await f.client.send(new GetObjectCommand({ Bucket: f.bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

async function putObject(key: string, body: Buffer): Promise<void> {
  await f.client.send(new PutObjectCommand({ Bucket: f.bucket, Key: key, Body: body }));
}

async function sourceChunk(file: string, index: number): Promise<Buffer> {
  return (await readFile(file)).subarray(index * CHUNK, (index + 1) * CHUNK);
}

/** Reads a document back, returning the bytes delivered before any error and the error. */
async function readBack(stream: NodeJS.ReadableStream): Promise<{ bytes: number; error: (Error & { code?: string }) | undefined }> {
  let bytes = 0;
  try {
    for await (const piece of stream) bytes += (piece as Buffer).length;
    return { bytes, error: undefined };
  } catch (err) {
    return { bytes, error: err as Error & { code?: string } };
  }
}

describe('adaptive compression', () => {
  it('stores text chunks as zstd frames and random chunks raw; the gate and read-back work on both', async () => {
    const text = await uploaded('text', { compressionLevel: 3 });
    const textRows = await rows(text.op.id);
    expect(textRows.map((r) => r.codec)).toEqual(['zstd', 'zstd', 'zstd', 'zstd', 'zstd', 'zstd']);
    for (const r of textRows) {
      expect(r.stored_size).toBeLessThan(r.size * 0.6);
      const head = await f.client.send(new HeadObjectCommand({ Bucket: f.bucket, Key: text.key(r.chunk_index) }));
      expect(head.ContentLength).toBe(r.stored_size);
    }
    expect(await text.u.verify(text.op.id)).toMatchObject({ sha256: text.sha256, totalBytes: text.size });
    expect(await hashStream(await text.u.openReadStream(text.op.id))).toEqual({ size: text.size, sha256: text.sha256 });

    const random = await uploaded('random', { compressionLevel: 3 });
    const randomRows = await rows(random.op.id);
    expect(randomRows.every((r) => r.codec === 'raw' && r.stored_size === null && r.nonce === null)).toBe(true);
    expect(await object(random.key(1))).toEqual(await sourceChunk(random.file, 1));
    expect(await random.u.verify(random.op.id)).toMatchObject({ sha256: random.sha256 });
    expect(await hashStream(await random.u.openReadStream(random.op.id))).toEqual({ size: random.size, sha256: random.sha256 });
  });

  it('keeps a chunk raw when zstd does not save the configured margin', async () => {
    const text = await uploaded('text', { compressionLevel: 1, compressionMinSavingsPercent: 99 });
    expect((await rows(text.op.id)).every((r) => r.codec === 'raw')).toBe(true);
    expect(await hashStream(await text.u.openReadStream(text.op.id))).toEqual({ size: text.size, sha256: text.sha256 });
  });

  it('refuses a bad level or margin at construction', () => {
    expect(() => uploader({ compressionLevel: 23 })).toThrow(/compressionLevel/);
    expect(() => uploader({ compressionMinSavingsPercent: 100 })).toThrow(/compressionMinSavingsPercent/);
  });
});

describe('encryption', () => {
  it('encrypts confidential and restricted documents whatever the policy, and others as configured', async () => {
    const u = (policy: 'always' | 'confidential' | 'never') => uploader({ encryptAtRest: policy, keyProvider: onK1 });
    const file = path.join(f.dir, `p-${randomId()}`);
    await writeRandomFile(file, 10);
    const keyOf = async (policy: 'always' | 'confidential' | 'never', level?: string) =>
      (await u(policy).createOperation({ owner: 'p', sourcePath: file, ...(level ? { securityLevel: level } : {}) })).keyId;
    expect(await keyOf('never', 'confidential')).toBe('k1');
    expect(await keyOf('never', 'restricted')).toBe('k1');
    expect(await keyOf('never', 'internal')).toBeNull();
    expect(await keyOf('confidential', 'public')).toBeNull();
    expect(await keyOf('confidential')).toBeNull();
    expect(await keyOf('always', 'public')).toBe('k1');
    // No key configured: a confidential document is refused before anything is created.
    const operationId = `nokey-${randomId()}`;
    const err = await errorOf(() => uploader().createOperation({ operationId, owner: 'p', sourcePath: file, securityLevel: 'confidential' }));
    expect(err).toMatchObject({ code: 'KEY_UNAVAILABLE', retryable: false });
    expect(await uploader().getOperation(operationId)).toBeUndefined();
  });

  it('stores ciphertext only, verifies at the gate and reads back byte-identical', async () => {
    const doc = await uploaded('random', { compressionLevel: 3, keyProvider: onK1 }, 'confidential');
    const r = await rows(doc.op.id);
    expect(new Set(r.map((x) => x.nonce)).size).toBe(r.length);
    expect(r.every((x) => x.codec === 'raw' && x.stored_size === x.size + 16)).toBe(true);
    const stored = await object(doc.key(2));
    const plain = await sourceChunk(doc.file, 2);
    expect(stored.subarray(0, plain.length).equals(plain)).toBe(false);
    expect(stored.indexOf(plain.subarray(100, 132))).toBe(-1);
    expect(await doc.u.verify(doc.op.id)).toMatchObject({ sha256: doc.sha256 });
    expect(await hashStream(await doc.u.openReadStream(doc.op.id))).toEqual({ size: doc.size, sha256: doc.sha256 });
  });

  it('compresses, then encrypts, text of a restricted document', async () => {
    const doc = await uploaded('text', { compressionLevel: 3, keyProvider: onK1 }, 'restricted');
    const r = await rows(doc.op.id);
    expect(r.every((x) => x.codec === 'zstd' && x.nonce !== null && (x.size < CHUNK || (x.stored_size ?? x.size) < x.size / 2))).toBe(true);
    expect((await object(doc.key(0))).toString('latin1')).not.toMatch(/ the /);
    expect(await doc.u.verify(doc.op.id)).toMatchObject({ sha256: doc.sha256 });
    expect(await hashStream(await doc.u.openReadStream(doc.op.id))).toEqual({ size: doc.size, sha256: doc.sha256 });
  });

  it('re-puts a chunk whose commit was lost with the very same bytes and nonce: a committed chunk is never re-encrypted differently', async () => {
    const doc = await uploaded('text', { compressionLevel: 3, keyProvider: onK1 }, 'confidential');
    const before = await rows(doc.op.id);
    const etag = async (i: number) => (await f.client.send(new HeadObjectCommand({ Bucket: f.bucket, Key: doc.key(i) }))).ETag;
    const etags = await Promise.all(before.map((r) => etag(r.chunk_index)));
    // The commit of chunk 3 "never happened"; the operation is still uploading.
    await f.sql`delete from upload_chunks where operation_id = ${doc.op.id} and chunk_index = 3`;
    await f.sql`update upload_operations set status = 'active', sha256 = null where id = ${doc.op.id}`;
    const result = await doc.u.upload(doc.op.id);
    expect(result).toMatchObject({ chunksUploaded: 1, chunksSkipped: 5, sha256: doc.sha256 });
    expect(await rows(doc.op.id)).toEqual(before);
    expect(await Promise.all(before.map((r) => etag(r.chunk_index)))).toEqual(etags);
    expect(await hashStream(await doc.u.openReadStream(doc.op.id))).toEqual({ size: doc.size, sha256: doc.sha256 });
  });
});

describe('damaged and attacked chunks', () => {
  it('a tampered ciphertext: HASH_MISMATCH at the gate, CHUNK_AUTH_FAILED at read-back, no byte of the chunk served', async () => {
    const doc = await uploaded('random', { keyProvider: onK1 }, 'confidential');
    const bytes = await object(doc.key(2));
    bytes[500] = bytes[500]! ^ 0x01;
    await putObject(doc.key(2), bytes);
    expect(await errorOf(() => doc.u.verify(doc.op.id))).toMatchObject({ code: 'HASH_MISMATCH', key: doc.key(2) });
    const read = await readBack(await doc.u.openReadStream(doc.op.id));
    expect(read.error).toMatchObject({ code: 'CHUNK_AUTH_FAILED', key: doc.key(2), chunkIndex: 2 });
    expect(read.bytes).toBe(2 * CHUNK);
  });

  it('a swapped chunk (same length, another index) and a chunk replayed from another document fail authentication', async () => {
    const doc = await uploaded('random', { keyProvider: onK1 }, 'confidential');
    await f.client.send(new CopyObjectCommand({ Bucket: f.bucket, CopySource: `${f.bucket}/${doc.key(0)}`, Key: doc.key(1) }));
    const swapped = await readBack(await doc.u.openReadStream(doc.op.id));
    expect(swapped.error).toMatchObject({ code: 'CHUNK_AUTH_FAILED', chunkIndex: 1 });
    expect(swapped.bytes).toBe(CHUNK);

    const other = await uploaded('random', { keyProvider: onK1 }, 'confidential');
    await f.client.send(new CopyObjectCommand({ Bucket: f.bucket, CopySource: `${f.bucket}/${other.key(0)}`, Key: doc.key(1) }));
    expect((await readBack(await doc.u.openReadStream(doc.op.id))).error).toMatchObject({ code: 'CHUNK_AUTH_FAILED', chunkIndex: 1 });
  });

  it('a truncated object: SIZE_MISMATCH at the gate and at read-back', async () => {
    const doc = await uploaded('text', { compressionLevel: 3, keyProvider: onK1 }, 'confidential');
    const bytes = await object(doc.key(4));
    await putObject(doc.key(4), bytes.subarray(0, bytes.length - 20));
    expect(await errorOf(() => doc.u.verify(doc.op.id))).toMatchObject({ code: 'SIZE_MISMATCH', key: doc.key(4) });
    const read = await readBack(await doc.u.openReadStream(doc.op.id));
    expect(read.error).toMatchObject({ code: 'SIZE_MISMATCH', key: doc.key(4) });
    expect(read.bytes).toBe(4 * CHUNK);
  });

  it('a corrupt zstd frame that matches its recorded stored hash: CHUNK_CORRUPT at read-back', async () => {
    const doc = await uploaded('text', { compressionLevel: 3 });
    const [row] = (await rows(doc.op.id)).filter((r) => r.chunk_index === 1);
    const garbage = randomBytes(row!.stored_size ?? 0);
    await putObject(doc.key(1), garbage);
    // As if the manifest row had been written for these bytes (a compressor fault): only decoding can notice.
    const { createHash } = await import('node:crypto');
    await f.sql`update upload_chunks set stored_sha256 = ${createHash('sha256').update(garbage).digest('hex')}, stored_md5 = ${createHash('md5').update(garbage).digest('hex')}
      where operation_id = ${doc.op.id} and chunk_index = 1`;
    const read = await readBack(await doc.u.openReadStream(doc.op.id));
    expect(read.error).toMatchObject({ code: 'CHUNK_CORRUPT', key: doc.key(1) });
    expect(read.bytes).toBe(CHUNK);
  });

  it('a missing or retired key id: KEY_UNAVAILABLE at the gate and at read-back, naming the id and never a key', async () => {
    const doc = await uploaded('random', { keyProvider: onK1 }, 'confidential');
    const withoutK1 = createUploader({ sql: f.sql, chunkStore: f.chunkStore, keyPrefix: f.prefix, encoding: { keyProvider: provider({ k2 }, 'k2') } });
    const noProvider = createUploader({ sql: f.sql, chunkStore: f.chunkStore, keyPrefix: f.prefix });
    const errors = [
      await errorOf(() => withoutK1.verify(doc.op.id)),
      await errorOf(() => withoutK1.openReadStream(doc.op.id)),
      await errorOf(() => noProvider.openReadStream(doc.op.id)),
    ];
    for (const err of errors) expect(err).toMatchObject({ code: 'KEY_UNAVAILABLE', retryable: false });
    expect(errors[0]!.message).toContain('k1');
    // A wrapped key altered in the database does not unwrap.
    await f.sql`update upload_operations set wrapped_key = ${Buffer.alloc(61, 1).toString('base64')} where id = ${doc.op.id}`;
    errors.push(await errorOf(() => doc.u.openReadStream(doc.op.id)));
    expect(errors[3]).toMatchObject({ code: 'CHUNK_AUTH_FAILED' });
    const secrets = [k1, k2].flatMap((k) => [k.toString('base64'), k.toString('hex')]);
    for (const err of errors) {
      const seen = `${err.message} ${err.stack ?? ''} ${JSON.stringify(err)}`;
      for (const s of secrets) expect(seen).not.toContain(s);
    }
  });
});

describe('the bucket describes itself', () => {
  it('recovers a document from its manifest object by document id, operation id or prefix, with sealed metadata', async () => {
    const doc = await uploaded('text', { compressionLevel: 3, keyProvider: onK1 }, 'confidential');
    const documentId = `doc-${randomId()}`;
    const key = await doc.u.publishManifest(doc.op.id, { documentId, metadata: { title: 'Secret plans', securityLevel: 'confidential' } });
    expect(key).toBe(bucketManifestKey(doc.op.keyPrefix));
    const manifestText = (await object(key)).toString('utf8');
    expect(manifestText).not.toContain('Secret plans');
    expect(JSON.parse(manifestText)).toMatchObject({ documentId, operationId: doc.op.id, sha256: doc.sha256, encryption: { keyId: 'k1' } });

    for (const target of [documentId, doc.op.id, doc.op.keyPrefix]) {
      const out = path.join(f.dir, `recovered-${randomId()}`);
      const result = await recoverDocument({ chunkStore: f.chunkStore, keyProvider: onK1, target, outFile: out, rootPrefix: f.prefix });
      expect(result).toMatchObject({ documentId, operationId: doc.op.id, bytes: doc.size, sha256: doc.sha256, chunks: 6, encrypted: true, metadata: { title: 'Secret plans' } });
      expect(await readFile(out)).toEqual(await readFile(doc.file));
    }

    // Damage is refused and leaves no output behind.
    const bytes = await object(doc.key(3));
    bytes[7] = bytes[7]! ^ 0x80;
    await putObject(doc.key(3), bytes);
    const out = path.join(f.dir, `recovered-${randomId()}`);
    expect(await errorOf(() => recoverDocument({ chunkStore: f.chunkStore, keyProvider: onK1, target: documentId, outFile: out, rootPrefix: f.prefix }))).toMatchObject({
      code: 'CHUNK_AUTH_FAILED',
      chunkIndex: 3,
    });
    await expect(stat(out)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(`${out}.partial`)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await errorOf(() => recoverDocument({ chunkStore: f.chunkStore, target: 'no-such-doc', outFile: out, rootPrefix: f.prefix }))).toMatchObject({ code: 'OPERATION_NOT_FOUND' });
  });

  it('deleting an operation removes its manifest object with its chunks', async () => {
    const doc = await uploaded('random', {}, undefined, 2);
    const key = await doc.u.publishManifest(doc.op.id, { documentId: 'd', metadata: {} });
    const report = await doc.u.deleteOperationChunks(doc.op.id);
    expect(report).toMatchObject({ deletedCount: 4, totalChunks: 4, failedDeletions: [] });
    expect(await f.chunkStore.exists(key)).toBe(false);
  });
});

describe('key rotation', () => {
  it('re-wraps data keys under the new key without touching a chunk; the retired key is no longer needed', async () => {
    const done = await uploaded('text', { compressionLevel: 3, keyProvider: onK1 }, 'confidential');
    const documentId = `doc-${randomId()}`;
    await done.u.publishManifest(done.op.id, { documentId, metadata: { title: 'rotated' } });
    const pending = await uploaded('random', { keyProvider: onK1 }, 'restricted');
    await f.sql`update upload_operations set status = 'active', sha256 = null where id = ${pending.op.id}`;
    const etagsBefore = await Promise.all([0, 1, 2].map(async (i) => (await f.client.send(new HeadObjectCommand({ Bucket: f.bucket, Key: done.key(i) }))).ETag));

    const both = createUploader({ sql: f.sql, chunkStore: f.chunkStore, keyPrefix: f.prefix, encoding: { keyProvider: provider({ k1, k2 }, 'k2') } });
    const report = await both.rotateDataKeys();
    // Operations of earlier tests share the database; the one whose wrapped key was altered cannot be re-wrapped, and says so.
    expect(report.failed.filter((x) => x.operationId === done.op.id || x.operationId === pending.op.id)).toEqual([]);
    expect(report.failed.every((x) => x.code === 'CHUNK_AUTH_FAILED' && !x.message.includes(k1.toString('base64')))).toBe(true);
    expect(report.rewrapped).toBeGreaterThanOrEqual(2);
    expect(report.manifestObjectsRewritten).toBeGreaterThanOrEqual(1);
    expect((await both.getOperation(done.op.id))?.keyId).toBe('k2');
    expect((await both.getOperation(pending.op.id))?.keyId).toBe('k2');
    const etagsAfter = await Promise.all([0, 1, 2].map(async (i) => (await f.client.send(new HeadObjectCommand({ Bucket: f.bucket, Key: done.key(i) }))).ETag));
    expect(etagsAfter).toEqual(etagsBefore);
    // A second run finds nothing left under k1.
    expect(await both.rotateDataKeys()).toMatchObject({ rewrapped: 0, failed: report.failed });

    // k1 retired: everything still reads, resumes and recovers with k2 alone.
    const onlyK2 = provider({ k2 }, 'k2');
    const retired = createUploader({ sql: f.sql, chunkStore: f.chunkStore, chunkSizeBytes: CHUNK, keyPrefix: f.prefix, encoding: { keyProvider: onlyK2 } });
    expect(await hashStream(await retired.openReadStream(done.op.id))).toEqual({ size: done.size, sha256: done.sha256 });
    expect(await retired.upload(pending.op.id)).toMatchObject({ sha256: pending.sha256 });
    expect(await hashStream(await retired.openReadStream(pending.op.id))).toEqual({ size: pending.size, sha256: pending.sha256 });
    const out = path.join(f.dir, `rotated-${randomId()}`);
    expect(await recoverDocument({ chunkStore: f.chunkStore, keyProvider: onlyK2, target: documentId, outFile: out, rootPrefix: f.prefix })).toMatchObject({ sha256: done.sha256 });
    // And the old key alone no longer opens them.
    expect(await errorOf(() => done.u.openReadStream(done.op.id))).toMatchObject({ code: 'KEY_UNAVAILABLE' });
  });
});
