// Process crashes (seeds/004 §4 C4, edge cases 3 and 5): a worker process is SIGKILLed in the middle of an upload
// or of a compensation, and a freshly started worker process carries on. Nothing of a saga lives in a worker's
// memory (DESIGN §3), so the seed's "lost in-memory state / orphan chunks after restart" cannot happen here: what
// this design does instead is resume (upload) or re-run (idempotent compensation) from PostgreSQL, once the dead
// worker's BullMQ lock has expired and the job is found stalled (up to ~60 s with the worker's default settings).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stopAllProcesses, waitFor } from '@ingest/testkit';
import { ended, expectConsistent, expectNothingLeft, expectReadBack, stepStatus, submit, until, uploadOutput } from './outcome.ts';
import { createMatrixWorld, doQueue, type MatrixWorld } from './world.ts';
import { crash, startWorkerProcess } from './worker-process.ts';

const MiB = 1024 * 1024;
const RECOVERY_MS = 150_000;
let w: MatrixWorld;

beforeAll(async () => {
  // Requests are held at the S3 proxy until the crash: no S3 call may time out first and turn a held PUT or DELETE
  // into a failed attempt, however slow the machine.
  w = await createMatrixWorld({ S3_CALL_TIMEOUT_MS: '300000' });
});
afterEach(async () => {
  await stopAllProcesses();
  await w.endTest();
});
afterAll(async () => w?.close());

async function manifestRows(operationId: string): Promise<number> {
  const [row] = await w.h.sql<{ n: number }[]>`select count(*)::int as n from upload_chunks where operation_id = ${operationId}`;
  return row?.n ?? 0;
}

describe('process crashes', () => {
  // One crash serves both rows: the killed worker holds one saga in the middle of its upload and another in the
  // middle of its chunk cleanup, so the (slow) stalled-job recovery is waited for once.
  it('E5 + C4/E3: a worker is SIGKILLed with one saga mid-upload and another mid-compensation; a restarted worker resumes the upload (byte-identical commit) and re-runs the compensation (fully rolled back)', async () => {
    const observer = await w.runtime();
    // Held before finalize, so the rolled-back saga has every store written; the restarted worker takes every queue.
    const held = observer.engine.queueNames().filter((q) => q !== doQueue('finalize'));
    const first = await startWorkerProcess(w, 'worker-1', { WORKER_QUEUES: held.join(',') });

    await w.h.writeSource('comp-crash.bin', 15 * MiB);
    const undone = await submit(observer, 'comp-crash.bin', { content: 'text '.repeat(500), relations: [{ type: 'about', target: 'topic:crashes' }] });
    await until(observer, undone.sagaId, 'relational_insert to succeed', (s) => stepStatus(s, 'relational_insert') === 'succeeded');

    await w.h.writeSource('crash.bin', 30 * MiB);
    const digest = await w.sourceDigest('crash.bin');
    // Chunks 0 and 1 are stored, every later PUT is held: the upload is still going when the power goes.
    const slow = w.s3.failWhen({ kind: 'put', key: /^chunks\/[^/]+\/0000000[2-9]$/, action: { type: 'stall' } });
    const uploading = await submit(observer, 'crash.bin');
    await waitFor(async () => (await manifestRows(uploading.operationId)) >= 2, { what: 'two chunks in the manifest' });

    // The cleanup hangs on S3 and the worker dies in the middle of it.
    const hang = w.s3.failWhen({ kind: ['deleteObjects', 'delete'], action: { type: 'stall' } });
    await observer.cancel(undone.sagaId);
    await until(observer, undone.sagaId, 'the chunk cleanup to be running', (s) => stepStatus(s, 'chunked_upload') === 'compensating');
    await crash(first);
    slow.remove();
    hang.remove();
    expect(await manifestRows(uploading.operationId)).toBe(2);

    // While no worker runs, both sagas are live and their chunks and rows are accounted for: nothing is an orphan.
    expect((await observer.status(uploading.sagaId)).status).toBe('running');
    expect((await observer.status(undone.sagaId)).status).toBe('compensating');
    await expectConsistent(w);

    await startWorkerProcess(w, 'worker-2');
    const committed = await ended(w, observer, uploading.sagaId, RECOVERY_MS);
    expect(committed.status).toBe('completed');
    const out = await uploadOutput(observer, uploading.sagaId);
    expect(out.resumed).toBe(true);
    expect(out.chunksSkipped).toBeGreaterThanOrEqual(2);
    // The killed attempt counts as one.
    expect((await observer.engine.get(uploading.sagaId)).steps.find((s) => s.name === 'chunked_upload')?.attempts).toBe(2);
    await expectReadBack(w, observer, uploading.documentId, 'crash.bin');
    expect(await w.sourceDigest('crash.bin')).toBe(digest);

    const rolledBack = await ended(w, observer, undone.sagaId, RECOVERY_MS);
    expect(rolledBack).toMatchObject({ status: 'compensated', rollbackStatus: 'success', failure: { reason: 'CANCELLED' } });
    expect((await observer.engine.get(undone.sagaId)).steps.find((s) => s.name === 'chunked_upload')?.compensationAttempts).toBe(2);
    await expectNothingLeft(w, undone);
    await expectConsistent(w);
  });
});
