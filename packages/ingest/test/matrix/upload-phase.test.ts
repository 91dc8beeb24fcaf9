// seeds/004 §1 "Upload phase failures", row by row (U1-U9), plus edge case 1 (file modified during upload).
// Faults are real: the source is deleted or rewritten on disk, S3 requests are stalled or answered with errors by
// the S3 fault proxy, the network to S3 is refused by a TCP proxy. Each row asserts the outcome class, that nothing
// of a rolled-back document is left anywhere, that the source was never touched by the saga, and that the checker
// finds nothing wrong afterwards.
import { appendFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@ingest/testkit';
import { SourceRejectedError } from '../../src/index.ts';
import { ended, expectConsistent, expectNothingLeft, expectReadBack, submit, until, uploadOutput, overwrite } from './outcome.ts';
import { chunkAt, createMatrixWorld, doQueue, undoQueue, type MatrixWorld } from './world.ts';

const MiB = 1024 * 1024;
/** 4 chunks of 5 MiB: chunk 1 is index 0, N/2 is index 2, N-1 (the last) is index 3. */
const SIZE = 20 * MiB;
let w: MatrixWorld;

beforeAll(async () => {
  // Three attempts a second apart: time to observe a failed attempt and lift the fault before the next one.
  w = await createMatrixWorld({ MAX_RESUME_ATTEMPTS: '3', RESUME_RETRY_DELAY_MS: '1000' });
});
afterEach(async () => w.endTest());
afterAll(async () => w?.close());

describe('upload phase (seeds/004 §1)', () => {
  it('U1 file not found (initial): refused at submit (422), or failed at validation with nothing to undo', async () => {
    const rt = await w.runtimeHolding([doQueue('validate_file')]);
    const refused = await rt.submit({ filePath: 'never-there.bin', metadata: { title: 'x' } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SourceRejectedError);
    expect((refused as SourceRejectedError).code).toBe('SOURCE_NOT_FOUND');

    await w.h.writeSource('vanishes.bin', 1024);
    const ids = await submit(rt, 'vanishes.bin');
    await rm(path.join(w.h.root, 'vanishes.bin'));
    await w.release([doQueue('validate_file')]);
    const status = await ended(w, rt, ids.sagaId);
    expect(status).toMatchObject({ status: 'failed', rollbackPerformed: false, failure: { reason: 'FILE_NOT_FOUND', step: 'validate_file' } });
    await expectNothingLeft(w, ids);
    await expectConsistent(w);
  });

  it.each([
    // Noticed at the next chunk boundary, or at the gate when every chunk was already read: both before any store.
    { row: 'U2 file deleted during upload', mutate: (f: string) => rm(f), reason: 'FILE_NOT_FOUND', step: /^(chunked_upload|verify_integrity)$/, untouched: false },
    { row: 'U3/E1 file modified during upload (grows)', mutate: (f: string) => appendFile(f, Buffer.from('one more page')), reason: 'SIZE_MISMATCH', step: /^(chunked_upload|verify_integrity)$/, untouched: true },
    { row: 'U3/E1 file modified during upload (same size, bytes already uploaded)', mutate: (f: string) => overwrite(f, 100, Buffer.from('changed')), reason: 'HASH_MISMATCH', step: /^verify_integrity$/, untouched: true },
  ])('$row: detected ($reason), rolled back before any store, every chunk deleted, the source left as the user made it', async ({ mutate, reason, step, untouched }) => {
    const rt = await w.runtime();
    await rt.startWorkers({ concurrency: 2 });
    const name = `mutated-${reason}.bin`;
    const file = await w.h.writeSource(name, SIZE);
    const hold = w.s3.failWhen({ kind: 'put', key: chunkAt(1), times: 1, action: { type: 'stall' } });
    const ids = await submit(rt, name);
    await waitFor(() => hold.matches() === 1, { what: 'chunk 1 to be on its way' });
    await mutate(file);
    const digest = untouched ? await w.sourceDigest(name) : null;
    hold.remove();
    const status = await ended(w, rt, ids.sagaId);
    expect(status).toMatchObject({ status: 'compensated', rollbackStatus: 'success', failure: { reason, step: expect.stringMatching(step) } });
    expect(status.steps.find((x) => x.name === 'security_classification')?.status).toBe('pending');
    await expectNothingLeft(w, ids);
    if (digest) expect(await w.sourceDigest(name)).toBe(digest);
    await expectConsistent(w);
  });

  it('E1 variant: bytes modified ahead of the upload are uploaded and verified as they are now; the commit reads back byte-identical', async () => {
    const rt = await w.runtime();
    await rt.startWorkers({ concurrency: 2 });
    // The uploader reads a chunk only when one of its UPLOAD_CONCURRENCY slots is free: with the PUTs of the first
    // `slots` chunks held, chunk `slots` + 1 cannot have been read yet, whatever the machine's speed.
    const slots = rt.config.UPLOAD_CONCURRENCY;
    const file = await w.h.writeSource('ahead.bin', (slots + 2) * 5 * MiB);
    const first = new RegExp(`^chunks/[^/]+/(${Array.from({ length: slots }, (_, i) => String(i).padStart(8, '0')).join('|')})$`);
    const hold = w.s3.failWhen({ kind: 'put', key: first, times: slots, action: { type: 'stall' } });
    const ids = await submit(rt, 'ahead.bin');
    await waitFor(() => hold.matches() === slots, { what: `the first ${slots} chunks to be on their way` });
    await overwrite(file, (slots + 1) * 5 * MiB + 10, Buffer.from('rewritten before it was read'));
    hold.remove();
    const status = await ended(w, rt, ids.sagaId);
    expect(status.status).toBe('completed');
    await expectReadBack(w, rt, ids.documentId, 'ahead.bin');
    await expectConsistent(w);
  });

  it.each([
    { row: 'U4 network failure (chunk 1)', index: 0 },
    { row: 'U5 network failure (chunk N/2)', index: 2 },
    { row: 'U6 network failure (chunk N-1)', index: 3 },
  ])('$row: the attempt fails, the next resumes from the manifest and completes byte-identical', async ({ index }) => {
    const rt = await w.runtime();
    await rt.startWorkers({ concurrency: 2 });
    const name = `net-${index}.bin`;
    await w.h.writeSource(name, SIZE);
    const digest = await w.sourceDigest(name);
    const hold = w.s3.failWhen({ kind: 'put', key: chunkAt(index), times: 1, action: { type: 'stall' } });
    const ids = await submit(rt, name);
    await waitFor(() => hold.matches() === 1, { what: `chunk ${index} to be on its way` });
    // The network to S3 goes down with chunk `index` in flight (the held request dies with its connection).
    w.s3Net.refuse();
    hold.remove();
    await until(rt, ids.sagaId, 'the upload attempt to fail', (s) => s.state === 'upload_failed');
    w.s3Net.accept();
    const status = await ended(w, rt, ids.sagaId);
    expect(status.status).toBe('completed');
    const out = await uploadOutput(rt, ids.sagaId);
    // What the failed attempt committed is skipped (re-hashed from the source, not uploaded again).
    expect(out).toMatchObject({ chunkCount: 4, resumed: out.chunksSkipped > 0 });
    expect(out.chunksSkipped + out.chunksUploaded).toBe(4);
    if (index > 1) expect(out.chunksSkipped).toBeGreaterThanOrEqual(1);
    expect((await rt.engine.get(ids.sagaId)).steps.find((s) => s.name === 'chunked_upload')?.attempts).toBe(2);
    await expectReadBack(w, rt, ids.documentId, name);
    expect(await w.sourceDigest(name)).toBe(digest);
    await expectConsistent(w);
  });

  it('U4-U6 exhausted: the network stays down through every attempt; the rollback deletes every chunk stored', async () => {
    const rt = await w.runtimeHolding([undoQueue('chunked_upload')]);
    await w.h.writeSource('net-down.bin', SIZE);
    const hold = w.s3.failWhen({ kind: 'put', key: chunkAt(2), times: 1, action: { type: 'stall' } });
    const ids = await submit(rt, 'net-down.bin');
    await waitFor(() => hold.matches() === 1, { what: 'chunk 2 to be on its way' });
    w.s3Net.refuse();
    hold.remove();
    const rolling = await until(rt, ids.sagaId, 'the rollback to start', (s) => s.status === 'compensating');
    expect(rolling.failure).toMatchObject({ reason: 'MAX_RETRIES_EXCEEDED', step: 'chunked_upload' });
    expect(await w.h.storedKeys()).not.toEqual([]);
    w.s3Net.accept();
    await w.release([undoQueue('chunked_upload')]);
    const status = await ended(w, rt, ids.sagaId);
    expect(status).toMatchObject({ status: 'compensated', rollbackStatus: 'success' });
    await expectNothingLeft(w, ids);
    await expectConsistent(w);
  });

  it('U7 storage backend full (507 on every chunk after the first): retried, then rolled back; the partial chunks are deleted', async () => {
    const rt = await w.runtime();
    await rt.startWorkers({ concurrency: 2 });
    await w.h.writeSource('full.bin', SIZE);
    w.s3.failWhen({ kind: 'put', key: chunkAt('after0'), action: { type: 'error', status: 507, code: 'XMinioStorageFull', message: 'Storage backend has reached its minimum free drive threshold.' } });
    const ids = await submit(rt, 'full.bin');
    const status = await ended(w, rt, ids.sagaId);
    expect(status).toMatchObject({ status: 'compensated', failure: { reason: 'MAX_RETRIES_EXCEEDED', step: 'chunked_upload' } });
    expect(status.failure?.message).toMatch(/after 3 attempt\(s\).*XMinioStorageFull|after 3 attempt\(s\).*507/);
    expect(w.s3.requests().some((r) => r.kind === 'put' && r.status === 200)).toBe(true);
    await expectNothingLeft(w, ids);
    await expectConsistent(w);
  });

  it('U8 storage backend timeout (chunk PUTs never answered): the saga deadline aborts the upload and rolls back; chunks deleted', async () => {
    // The saga deadline (here 6 s) ends the upload; since 1847675 the PUTs in flight are not aborted but left to end
    // within the chunk store's 60 s call timeout, and only then does the rollback start (so this row takes ~1 min).
    const rt = await w.runtime({ SAGA_TIMEOUT_SECONDS: '6', ORPHAN_GRACE_SECONDS: '0' });
    await rt.startWorkers({ concurrency: 2 });
    await w.h.writeSource('timeout.bin', SIZE);
    const stall = w.s3.failWhen({ kind: 'put', key: chunkAt('after0'), action: { type: 'stall' } });
    const ids = await submit(rt, 'timeout.bin');
    const status = await ended(w, rt, ids.sagaId);
    expect(status).toMatchObject({ status: 'compensated', failure: { reason: 'TIMEOUT', step: 'chunked_upload' } });
    await expectNothingLeft(w, ids);

    // A PUT that timed out on the client can still reach the server after the rollback listed the prefix: a late
    // write (docs/consistency.md, finding F1). It is an orphan the checker sees and the janitor's reaper removes.
    const stalled = w.s3.requests().filter((r) => r.fault === 'stall' && r.key.startsWith(`chunks/${ids.operationId}/`));
    expect(stalled.length).toBeGreaterThan(0);
    stall.remove();
    const keys = stalled.map((r) => r.key).sort();
    // The client is gone, so the proxy cannot report an answer: watch the bucket itself.
    const landed = await waitFor(
      async () => {
        const stored = (await w.h.storedKeys()).filter((k) => k.startsWith(`chunks/${ids.operationId}/`)).sort();
        return stored.length === keys.length ? stored : undefined;
      },
      { timeoutMs: 15_000, what: `the released PUTs of ${keys.join(', ')} to land` },
    );
    expect(landed).toEqual(keys);
    const report = await w.check();
    expect(report.violations).toEqual([
      { kind: 'orphan_chunks', operationId: ids.operationId, sagaId: ids.sagaId, sagaStatus: 'compensated', count: landed.length, keys: landed },
    ]);
    const pass = await rt.janitorPass();
    expect(pass.orphanChunksDeleted).toBe(landed.length);
    await expectNothingLeft(w, ids);
    await expectConsistent(w);
  });

  it.each([
    { row: 'U9 chunk metadata corruption (seen by the gate)', via: 'verify', step: 'verify_integrity' },
    { row: 'U9 chunk metadata corruption (seen by a resume)', via: 'resume', step: 'chunked_upload' },
  ])('$row: METADATA_CORRUPT, rolled back; the listing-based cleanup leaves nothing even so', async ({ via, step }) => {
    const rt = await w.runtime();
    await rt.startWorkers({ concurrency: 2 });
    const name = `corrupt-${via}.bin`;
    await w.h.writeSource(name, SIZE);
    const hold = w.s3.failWhen({ kind: 'put', key: chunkAt(2), times: 1, action: { type: 'stall' } });
    const ids = await submit(rt, name);
    await waitFor(() => hold.matches() === 1, { what: 'chunk 2 to be on its way' });
    await w.h.sql`update upload_chunks set sha256 = 'garbage', key = 'chunks/elsewhere/00000000' where operation_id = ${ids.operationId} and chunk_index = 0`;
    if (via === 'resume') {
      w.s3Net.refuse();
      hold.remove();
      await until(rt, ids.sagaId, 'the upload attempt to fail', (s) => s.state === 'upload_failed');
      w.s3Net.accept();
    } else {
      hold.remove();
    }
    const status = await ended(w, rt, ids.sagaId);
    expect(status).toMatchObject({ status: 'compensated', failure: { reason: 'METADATA_CORRUPT', step } });
    await expectNothingLeft(w, ids);
    await expectConsistent(w);
  });
});
