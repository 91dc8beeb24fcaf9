// seeds/004 §2 "Resume phase failures" (R1-R7). Every resume here follows a real failed attempt: chunk i's PUT is
// held at the S3 fault proxy and the network to S3 is refused with it in flight. Between attempts the test
// damages what the resume relies on: the source (rewritten on disk) or the manifest (UPDATE/DELETE upload_chunks).
// The seed's three resume attempts follow a first attempt, so uploads here get 1 + 3 attempts a second apart, and
// one chunk in flight at a time, so that a failure at chunk i means exactly chunks 0..i-1 are in the manifest.
import { appendFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IngestRuntime } from '../../src/index.ts';
import { ended, expectConsistent, expectNothingLeft, expectReadBack, submit, until, uploadOutput, overwrite } from './outcome.ts';
import { failUploadAttemptAt } from './network-faults.ts';
import { createMatrixWorld, undoQueue, type MatrixWorld } from './world.ts';

const MiB = 1024 * 1024;
/** 6 chunks of 5 MiB. */
const SIZE = 30 * MiB;
let w: MatrixWorld;

beforeAll(async () => {
  w = await createMatrixWorld({ MAX_RESUME_ATTEMPTS: '4', RESUME_RETRY_DELAY_MS: '1000', UPLOAD_CONCURRENCY: '1' });
});
afterEach(async () => w.endTest());
afterAll(async () => w?.close());

async function uploadAttempts(rt: IngestRuntime, sagaId: string): Promise<number | undefined> {
  return (await rt.engine.get(sagaId)).steps.find((s) => s.name === 'chunked_upload')?.attempts;
}

describe('resume phase (seeds/004 §2)', () => {
  it.each([
    { row: 'R1 resume attempt 1 fails', resumeFailures: 1 },
    { row: 'R2 resume attempt 2 fails', resumeFailures: 2 },
  ])('$row: retried after the delay, resumed from the manifest, completed byte-identical', async ({ resumeFailures }) => {
    const rt = await w.runtime();
    await rt.startWorkers({ concurrency: 2 });
    const name = `resume-${resumeFailures}.bin`;
    await w.h.writeSource(name, SIZE);
    const digest = await w.sourceDigest(name);
    const ids = await submit(rt, name);
    // The first attempt fails at chunk 1, resume k at chunk k + 1: every attempt gets a little further.
    for (let attempt = 1; attempt <= 1 + resumeFailures; attempt++) {
      await failUploadAttemptAt(w, rt, ids.sagaId, attempt, attempt);
      w.s3Net.accept();
    }
    const status = await ended(w, rt, ids.sagaId);
    expect(status.status).toBe('completed');
    expect(await uploadAttempts(rt, ids.sagaId)).toBe(2 + resumeFailures);
    // The last attempt re-hashed the chunks stored before the last failure and uploaded only the rest.
    expect(await uploadOutput(rt, ids.sagaId)).toMatchObject({ resumed: true, chunksSkipped: 1 + resumeFailures, chunksUploaded: 5 - resumeFailures });
    await expectReadBack(w, rt, ids.documentId, name);
    expect(await w.sourceDigest(name)).toBe(digest);
    await expectConsistent(w);
  });

  it('R3 resume attempt 3 fails: MAX_RETRIES_EXCEEDED, every chunk deleted', async () => {
    const rt = await w.runtimeHolding([undoQueue('chunked_upload')]);
    await w.h.writeSource('resume-3.bin', SIZE);
    const ids = await submit(rt, 'resume-3.bin');
    for (let attempt = 1; attempt <= 3; attempt++) {
      await failUploadAttemptAt(w, rt, ids.sagaId, attempt, attempt);
      w.s3Net.accept();
    }
    // The last attempt: down for good.
    await failUploadAttemptAt(w, rt, ids.sagaId, 4, 4);
    const rolling = await until(rt, ids.sagaId, 'the rollback to start', (s) => s.status === 'compensating');
    expect(rolling.failure).toMatchObject({ reason: 'MAX_RETRIES_EXCEEDED', step: 'chunked_upload', message: expect.stringMatching(/after 4 attempt\(s\)/) });
    expect((await w.h.storedKeys()).filter((k) => k.startsWith(`chunks/${ids.operationId}/`)).length).toBeGreaterThanOrEqual(3);
    w.s3Net.accept();
    await w.release([undoQueue('chunked_upload')]);
    expect(await ended(w, rt, ids.sagaId)).toMatchObject({ status: 'compensated', rollbackStatus: 'success' });
    await expectNothingLeft(w, ids);
    await expectConsistent(w);
  });

  it.each([
    {
      row: 'R4 chunk order mismatch (manifest rows 0 and 1 swapped)',
      reason: 'HASH_MISMATCH',
      damage: async (opId: string) => {
        await w.h.sql`update upload_chunks u set sha256 = o.sha256, md5 = o.md5 from upload_chunks o
          where u.operation_id = ${opId} and o.operation_id = ${opId} and u.chunk_index + o.chunk_index = 1`;
      },
    },
    {
      row: 'R6 file size changed between attempts',
      reason: 'SIZE_MISMATCH',
      damage: async (_opId: string, file: string) => appendFile(file, Buffer.from('appended while the upload was down')),
    },
    {
      row: 'R7 file hash changed between attempts (same size)',
      reason: 'HASH_MISMATCH',
      damage: async (_opId: string, file: string) => overwrite(file, 42, Buffer.from('rewritten while the upload was down')),
    },
  ])('$row: the resume refuses to continue ($reason), rolled back, every chunk deleted', async ({ reason, damage }) => {
    const rt = await w.runtime();
    await rt.startWorkers({ concurrency: 2 });
    const name = `damaged-${reason}-${Math.random().toString(36).slice(2, 6)}.bin`;
    const file = await w.h.writeSource(name, SIZE);
    const ids = await submit(rt, name);
    await failUploadAttemptAt(w, rt, ids.sagaId, 3, 1);
    await damage(ids.operationId, file);
    const digest = await w.sourceDigest(name);
    w.s3Net.accept();
    const status = await ended(w, rt, ids.sagaId);
    expect(status).toMatchObject({ status: 'compensated', rollbackStatus: 'success', failure: { reason, step: 'chunked_upload' } });
    expect(await uploadAttempts(rt, ids.sagaId)).toBe(2);
    await expectNothingLeft(w, ids);
    expect(await w.sourceDigest(name)).toBe(digest);
    await expectConsistent(w);
  });

  it('R5 missing chunk metadata (a manifest row deleted between attempts): what this design does instead of a best-effort cleanup: the gap is re-hashed and re-uploaded, and the document completes byte-identical', async () => {
    const rt = await w.runtime();
    await rt.startWorkers({ concurrency: 2 });
    await w.h.writeSource('gap.bin', SIZE);
    const ids = await submit(rt, 'gap.bin');
    await failUploadAttemptAt(w, rt, ids.sagaId, 4, 1);
    const deleted = await w.h.sql`delete from upload_chunks where operation_id = ${ids.operationId} and chunk_index = 1 returning key`;
    expect(deleted.length).toBe(1);
    w.s3Net.accept();
    const status = await ended(w, rt, ids.sagaId);
    expect(status.status).toBe('completed');
    const out = await uploadOutput(rt, ids.sagaId);
    expect(out).toMatchObject({ resumed: true, chunkCount: 6 });
    expect(out.chunksUploaded).toBeGreaterThanOrEqual(3);
    await expectReadBack(w, rt, ids.documentId, 'gap.bin');
    await expectConsistent(w);
  });
});
