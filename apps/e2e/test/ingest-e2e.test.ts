// Document ingestion end to end, through the real producer and worker processes: a 20 MiB document committed
// byte-identical, then each failure class (source deleted, source modified, chunk corrupted on the server, user
// cancellation, a downstream failure, storage unavailable) ending rolled back with nothing left in S3 or any table.
// The producer and the worker are shared by the file's tests (starting one takes seconds) and stopped in afterAll;
// every fault rule is lifted after each test.
import { randomBytes } from 'node:crypto';
import { open, readFile, rm } from 'node:fs/promises';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { INGEST_STEPS, type DocumentView, type IngestionStatus, type Violation } from '@ingest/ingest';
import type { SagaStats } from '@ingest/saga-core';
import { stopAllProcesses, waitFor, type TestProcess } from '@ingest/testkit';
import { sha256Of, type ProducerApi } from './producer-api.ts';
import { MiB, NOTHING_LEFT, createE2eWorld, type E2eWorld } from './world.ts';

const STEPS = INGEST_STEPS;

// Chunks of the files whose upload is slowed down to act in its middle: enough that acting a few seconds late still
// falls within the upload (a failing upload stops early, so the size costs little time).
const SLOW_FILE_CHUNKS = 6;

describe('ingestion end to end (producer and worker processes)', () => {
  let w: E2eWorld;
  let api: ProducerApi;
  let worker: TestProcess;

  beforeAll(async () => {
    w = await createE2eWorld();
    // One after the other: both migrate the fresh database at start-up.
    api = (await w.startProducer()).api;
    worker = await w.startWorker('worker-1');
  });

  afterEach(() => {
    w.s3Proxy.clearRules();
  });

  afterAll(async () => {
    await stopAllProcesses();
    await w?.close();
  });

  async function stats(): Promise<SagaStats> {
    const answer = await api.request('GET', '/v1/stats');
    expect(answer.status).toBe(200);
    return answer.body as SagaStats;
  }

  /** The saga ended rolled back for `reason` raised by `step`, and nothing of its document is left anywhere. */
  async function expectRolledBack(sagaId: string, reason: string, step: string): Promise<IngestionStatus> {
    const s = await api.waitForEnd(sagaId);
    expect(s).toMatchObject({
      sagaId,
      status: 'compensated',
      state: 'rolled_back',
      success: false,
      documentId: null,
      rollbackPerformed: true,
      rollbackStatus: 'success',
      compensationErrors: [],
      failure: { reason, step },
    });
    expect(s.errors[0]).toMatch(new RegExp(`^${reason}: `));
    const ids = await w.idsOf(sagaId);
    expect(await w.leftoversOf(ids)).toEqual(NOTHING_LEFT);
    expect((await api.request('GET', `/v1/documents/${ids.documentId}`)).status).toBe(404);
    expect(await violationsOf(ids)).toEqual([]);
    return s;
  }

  /** What the consistency checker finds wrong about this saga's document or upload (other tests' sagas aside). */
  async function violationsOf(ids: { sagaId: string; documentId: string }): Promise<Violation[]> {
    const report = await w.checkConsistency();
    return report.violations.filter((v) => JSON.stringify(v).includes(ids.sagaId) || JSON.stringify(v).includes(ids.documentId));
  }

  /** Polls until the upload has committed at least one chunk. */
  const uploadStarted = (sagaId: string): Promise<IngestionStatus> => api.waitUntil(sagaId, 'upload progress', (s) => s.progress.bytesDone > 0);

  /** Polls `probe` until it holds or `ms` have passed: for an event that must not happen, the window in which it could. */
  async function watchFor(probe: () => Promise<boolean>, ms: number): Promise<void> {
    await waitFor(async () => (await probe()) || undefined, { timeoutMs: ms, intervalMs: 100, what: 'a late event' }).catch(() => undefined);
  }

  /** PUT requests the workers sent for the operation's chunks. */
  const putsFor = (operationId: string): number =>
    w.s3Proxy.requests().filter((r) => r.kind === 'put' && r.key.startsWith(`chunks/${operationId}/`)).length;

  it('ingests a 20 MiB document: 202, completed, content byte-identical, metadata and stats', async () => {
    const bytes = await w.writeSource('reports/q3.bin', 20 * MiB);
    await w.writeSource('reports/q3.txt', 'Revenue grew in the third quarter while costs stayed flat. '.repeat(400));
    const before = await stats();
    const sagaId = await api.submit({
      filePath: 'reports/q3.bin',
      textPath: 'reports/q3.txt',
      metadata: { title: 'Q3 report', category: 'finance', securityLevel: 'confidential', quarter: 3 },
      relations: [
        { type: 'cites', target: 'doc:q2-report' },
        { type: 'about', target: 'topic:revenue', properties: { weight: 0.9 } },
      ],
    });

    const s = await api.waitForEnd(sagaId);
    expect(s).toMatchObject({
      status: 'completed',
      state: 'completed',
      success: true,
      rollbackPerformed: false,
      rollbackStatus: null,
      errors: [],
      failure: null,
      progress: { bytesDone: bytes.length, bytesTotal: bytes.length, percent: 100 },
    });
    expect(s.steps.map((step) => [step.name, step.status])).toEqual(STEPS.map((name) => [name, 'succeeded']));
    const documentId = s.documentId;
    if (documentId === null) throw new Error('a completed saga reports its document id');

    const content = await api.readContent(documentId);
    expect(content).toEqual({ status: 200, sha256: sha256Of(bytes), bytes: bytes.length, headerSha256: sha256Of(bytes) });

    const meta = await api.request('GET', `/v1/documents/${documentId}`);
    expect(meta.status).toBe(200);
    expect(meta.body).toMatchObject({
      documentId,
      sagaId,
      title: 'Q3 report',
      category: 'finance',
      securityLevel: 'confidential',
      sourcePath: 'reports/q3.bin',
      sizeBytes: bytes.length,
      sha256: sha256Of(bytes),
      chunkCount: 4,
      metadata: { quarter: 3, sagaId },
    } satisfies Partial<DocumentView>);

    expect(await stats()).toMatchObject({ active: 0, completed: before.completed + 1, compensated: before.compensated, pendingCleanups: 0 });
    // Every downstream store holds the document.
    const [rows] = await w.sql<{ vectors: number; edges: number; security: number }[]>`
      select (select count(*)::int from vector_chunks where document_id = ${documentId}) as vectors,
             (select count(*)::int from graph_edges where document_id = ${documentId}) as edges,
             (select count(*)::int from security_records where document_id = ${documentId}) as security`;
    expect(rows?.vectors).toBeGreaterThan(0);
    expect(rows).toMatchObject({ edges: 2, security: 1 });
    expect((await w.checkConsistency()).violations).toEqual([]);
  });

  it('FILE_NOT_FOUND: the source deleted during the upload rolls the saga back', async () => {
    await w.writeSource('deleted.bin', SLOW_FILE_CHUNKS * 5 * MiB);
    // Chunk 1's PUT is held until the file is gone: the deletion lands in the middle of the upload whatever the speed.
    const hold = w.s3Proxy.failWhen({ kind: 'put', key: /\/00000001$/, times: 1, action: { type: 'stall' } });
    const sagaId = await api.submit({ filePath: 'deleted.bin', metadata: { title: 'Deleted mid-upload' } });
    await waitFor(() => hold.matches() === 1, { timeoutMs: 60_000, what: "chunk 1's PUT to be on its way" });
    await rm(w.sourcePath('deleted.bin'));
    hold.remove();

    const s = await expectRolledBack(sagaId, 'FILE_NOT_FOUND', 'chunked_upload');
    expect(s.errors[0]).toContain('deleted.bin');
    expect(putsFor(sagaId)).toBeLessThan(SLOW_FILE_CHUNKS);
  });

  it('HASH_MISMATCH: the source modified (same size) after part of it was uploaded rolls the saga back at the gate', async () => {
    const bytes = await w.writeSource('modified.bin', SLOW_FILE_CHUNKS * 5 * MiB);
    w.s3Proxy.failWhen({ kind: 'put', action: { type: 'delay', ms: 1000 } });
    const sagaId = await api.submit({ filePath: 'modified.bin', metadata: { title: 'Modified mid-upload' } });
    await uploadStarted(sagaId);
    // Chunk 0 is stored already; rewrite bytes inside it in place, keeping the size.
    const fh = await open(w.sourcePath('modified.bin'), 'r+');
    try {
      await fh.write(randomBytes(4096), 0, 4096, 1024);
    } finally {
      await fh.close();
    }
    expect((await readFile(w.sourcePath('modified.bin'))).length).toBe(bytes.length);
    w.s3Proxy.clearRules();

    const s = await expectRolledBack(sagaId, 'HASH_MISMATCH', 'verify_integrity');
    expect(s.failure?.message).toMatch(/was modified: chunk 0 /);
  });

  it.each([
    { damage: 'truncated', reason: 'SIZE_MISMATCH', corrupt: (chunk: Buffer) => chunk.subarray(0, chunk.length / 2) },
    { damage: 'overwritten with other bytes of the same size', reason: 'HASH_MISMATCH', corrupt: (chunk: Buffer) => randomBytes(chunk.length) },
  ])('$reason: a chunk $damage on the server between upload and verification fails the gate', async ({ damage, reason, corrupt }) => {
    const name = `corrupt-${reason}.bin`;
    await w.writeSource(name, 15 * MiB);
    // Verification asks the server about each chunk (HEAD); hold those questions until the chunk is damaged.
    const hold = w.s3Proxy.failWhen({ kind: 'head', key: { prefix: 'chunks/' }, action: { type: 'stall' } });
    const sagaId = await api.submit({ filePath: name, metadata: { title: `Chunk ${damage}` } });
    await waitFor(() => hold.matches() > 0, { timeoutMs: 60_000, what: 'verification to ask the server about a chunk' });
    const key = (await w.manifestKeys(sagaId))[1];
    if (key === undefined) throw new Error('the manifest has no chunk 1');
    const stored = await w.s3.send(new GetObjectCommand({ Bucket: w.bucket, Key: key }));
    const original = Buffer.from((await stored.Body?.transformToByteArray()) ?? []);
    expect(original.length).toBe(5 * MiB);
    await w.s3.send(new PutObjectCommand({ Bucket: w.bucket, Key: key, Body: corrupt(original) }));
    hold.remove();

    const s = await expectRolledBack(sagaId, reason, 'verify_integrity');
    expect(s.failure?.message).toContain(key);
  });

  it('CANCELLED: a user cancellation in the middle of the upload stops it and rolls the saga back, leaving nothing', async () => {
    const delayMs = 2000;
    await w.writeSource('cancelled.bin', SLOW_FILE_CHUNKS * 5 * MiB);
    w.s3Proxy.failWhen({ kind: 'put', action: { type: 'delay', ms: delayMs } });
    const sagaId = await api.submit({ filePath: 'cancelled.bin', metadata: { title: 'Cancelled' } });
    await uploadStarted(sagaId);
    const cancel = await api.request('POST', `/v1/sagas/${sagaId}/cancel`);
    expect(cancel.status).toBe(202);
    expect(cancel.body).toMatchObject({ sagaId, accepted: true });

    await expectRolledBack(sagaId, 'CANCELLED', 'chunked_upload');
    // It stopped at a chunk boundary instead of finishing the file.
    expect(putsFor(sagaId)).toBeLessThan(SLOW_FILE_CHUNKS);

    // The PUT in flight when the cancellation came is held by the proxy, as by a slow network, for `delayMs` after it
    // arrived, then forwarded with what the worker had sent of it. Nothing sent before the rollback may land after it.
    await watchFor(async () => (await w.storedChunkKeys(sagaId)).length > 0, 2 * delayMs);
    // Known bug: packages/storage/src/upload.ts hands the cancellation signal to the PUTs in flight, so the chunk
    // cleanup runs without waiting for them; s3rver keeps the partial body of the aborted PUT as an object, which
    // then sits there after a rollback reported as a success, recorded in no failed_cleanups row.
    expect(await w.storedChunkKeys(sagaId), 'a PUT aborted by the cancellation landed after the rollback').toEqual([]);
    expect(await violationsOf(await w.idsOf(sagaId))).toEqual([]);
  });

  it('a downstream failure after the upload (the text file gone before vector_insert) is compensated in every store', async () => {
    // No worker while the saga is submitted and the text removed.
    worker.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    const bytes = await w.writeSource('downstream.bin', 10 * MiB);
    await w.writeSource('downstream.txt', 'words for the vector store '.repeat(200));
    const sagaId = await api.submit({
      filePath: 'downstream.bin',
      textPath: 'downstream.txt',
      metadata: { title: 'Downstream failure', securityLevel: 'restricted' },
      relations: [{ type: 'cites', target: 'doc:elsewhere' }],
    });
    await rm(w.sourcePath('downstream.txt'));
    worker = await w.startWorker('worker-2');

    const s = await expectRolledBack(sagaId, 'FILE_NOT_FOUND', 'vector_insert');
    expect(s.errors[0]).toContain('textPath');
    const statusOf = (name: string): string | undefined => s.steps.find((step) => step.name === name)?.status;
    // Everything done before the failure was undone, newest first; nothing after it ran.
    for (const name of ['validate_file', 'start_streaming', 'chunked_upload', 'security_classification']) expect(statusOf(name)).toBe('compensated');
    for (const name of ['graph_insert', 'relational_insert', 'finalize']) expect(statusOf(name)).toBe('pending');
    // The source itself is never touched.
    expect(sha256Of(await readFile(w.sourcePath('downstream.bin')))).toBe(sha256Of(bytes));
  });

  it('MAX_RETRIES_EXCEEDED: storage refusing every put exhausts the upload attempts and rolls the saga back', async () => {
    await w.writeSource('unavailable.bin', 15 * MiB);
    const down = w.s3Proxy.failWhen({ kind: 'put', action: { type: 'error', status: 503, code: 'ServiceUnavailable', message: 'storage is down' } });
    const sagaId = await api.submit({ filePath: 'unavailable.bin', metadata: { title: 'Storage down' } });

    const s = await expectRolledBack(sagaId, 'MAX_RETRIES_EXCEEDED', 'chunked_upload');
    const [upload] = await w.sql<{ attempts: number }[]>`select attempts from saga_steps where saga_id = ${sagaId} and name = 'chunked_upload'`;
    // MAX_RESUME_ATTEMPTS is 2, and each attempt reached the store.
    expect(upload?.attempts).toBe(2);
    expect(down.matches()).toBeGreaterThanOrEqual(2);
    // The last attempt's error names the refused PUT (answered 503, or cut off while its body was still being sent).
    expect(s.errors[0]).toMatch(new RegExp(`after 2 attempt\\(s\\); last error: StorageError: PUT chunks/${sagaId}/`));
  });
});
