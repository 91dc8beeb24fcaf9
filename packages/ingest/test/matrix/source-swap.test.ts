// Attacks on the source after validation (issue 14): someone with write access to SOURCE_ROOT swaps the validated
// file for a symlink, a FIFO, a hard link or a directory symlink pointing outside, between two opens of the saga
// (before a retry, before a takeover by another worker, before the integrity gate). Each must end rolled back with a
// clear reason, the outside file never opened (a FIFO trap's writer still waits) or never read (its atime is where
// it was), nothing left anywhere, no libuv thread left blocked, and the checker content.
import { chmod, link, mkdir, mkdtemp, readFile, rename, rm, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createFifoTrap, stopAllProcesses, waitFor, type FifoTrap } from '@ingest/testkit';
import type { IngestRuntime } from '../../src/index.ts';
import { ended, expectConsistent, expectNothingLeft, stepStatus, submit, until, type SagaIds } from './outcome.ts';
import { chunkAt, createMatrixWorld, doQueue, type MatrixWorld } from './world.ts';
import { crash, startWorkerProcess } from './worker-process.ts';

const MiB = 1024 * 1024;
/** As in the report: a source of the same size as the secret it is swapped for. */
const SECRET = 'AKIA-service-account-token-0123456789ab';
let w: MatrixWorld;
let outside: string;
const traps: FifoTrap[] = [];

beforeAll(async () => {
  w = await createMatrixWorld({ MAX_RESUME_ATTEMPTS: '3', RESUME_RETRY_DELAY_MS: '1000' });
  outside = await mkdtemp(path.join(tmpdir(), 'outside-'));
});
afterEach(async () => {
  await stopAllProcesses();
  for (const t of traps.splice(0)) await t.close();
  await w.endTest();
});
afterAll(async () => {
  await w?.close();
  await rm(outside, { recursive: true, force: true });
});

/** An outside secret whose atime is older than its mtime, so any read moves it (relatime). */
async function secretFile(name: string): Promise<{ file: string; atimeMs: () => Promise<number> }> {
  const file = path.join(outside, name);
  await writeFile(file, SECRET);
  await utimes(file, new Date('2020-01-01'), new Date());
  return { file, atimeMs: async () => (await stat(file)).atimeMs };
}

async function trap(file: string): Promise<FifoTrap> {
  const t = await createFifoTrap(file);
  traps.push(t);
  return t;
}

/** The first upload attempt fails (S3 unreachable); `swap` runs while the saga waits for its retry; S3 comes back. */
async function swapBeforeRetry(rt: IngestRuntime, name: string, swap: (file: string) => Promise<void>): Promise<SagaIds> {
  const file = await w.h.writeSource(name, Buffer.from(SECRET.replace(/./g, 'p')));
  w.s3Net.refuse();
  const ids = await submit(rt, name);
  await until(rt, ids.sagaId, 'the first upload attempt to fail', (s) => s.state === 'upload_failed');
  await swap(file);
  w.s3Net.accept();
  return ids;
}

/** Rolled back for `reason` at `step`, nothing left, the checker content, and the process's libuv pool not held. */
async function expectRefused(rt: IngestRuntime, ids: SagaIds, reason: string, step: string): Promise<void> {
  const status = await ended(w, rt, ids.sagaId);
  expect(status).toMatchObject({ status: 'compensated', rollbackStatus: 'success', failure: { reason, step } });
  expect(status.failure?.message).toBeTruthy();
  expect(stepStatus(status, 'security_classification')).toBe('pending');
  await expectNothingLeft(w, ids);
  await expectConsistent(w);
  await expectFileReadsComplete();
}

/** Four reads at once need every thread of the default libuv pool: none may be stuck in the swapped-in file. */
async function expectFileReadsComplete(): Promise<void> {
  const probe = await w.h.writeSource('probe.txt', Buffer.from('probe'));
  const reads = Promise.all([1, 2, 3, 4].map(() => readFile(probe, 'utf8')));
  const timeout = new Promise<'blocked'>((r) => setTimeout(() => r('blocked'), 10_000).unref());
  expect(await Promise.race([reads, timeout])).toEqual(['probe', 'probe', 'probe', 'probe']);
}

describe('the source swapped after validation (issue 14)', () => {
  it('symlink to an outside secret before a retry: SOURCE_REPLACED, the secret unread and never served', async () => {
    const rt = await w.runtime();
    await rt.startWorkers({ concurrency: 2 });
    const secret = await secretFile('token');
    const atime = await secret.atimeMs();
    const ids = await swapBeforeRetry(rt, 'swap.bin', async (file) => {
      await unlink(file);
      await symlink(secret.file, file);
    });
    await expectRefused(rt, ids, 'SOURCE_REPLACED', 'chunked_upload');
    expect(await secret.atimeMs()).toBe(atime);
    await expect(rt.openDocumentContent(ids.documentId)).rejects.toMatchObject({ code: 'DOCUMENT_NOT_FOUND' });
  });

  it('FIFO before a retry: NOT_A_REGULAR_FILE at once (no hang), cancellation not even needed', async () => {
    const rt = await w.runtime();
    await rt.startWorkers({ concurrency: 2 });
    let fifo: FifoTrap | undefined;
    const ids = await swapBeforeRetry(rt, 'fifo.bin', async (file) => {
      await unlink(file);
      fifo = await trap(file);
    });
    await expectRefused(rt, ids, 'NOT_A_REGULAR_FILE', 'chunked_upload');
    // Refused from its lstat: the FIFO was not even opened (its writer still waits for a reader).
    expect(await fifo!.opened()).toBe(false);
  });

  it('a directory on the path swapped for a symlink to an outside directory: SOURCE_REPLACED, nothing in it opened', async () => {
    const rt = await w.runtime();
    await rt.startWorkers({ concurrency: 2 });
    await mkdir(path.join(w.h.root, 'dept'));
    const evil = path.join(outside, 'evil-dept');
    await mkdir(evil);
    let bait: FifoTrap | undefined;
    const ids = await swapBeforeRetry(rt, 'dept/doc.bin', async () => {
      bait = await trap(path.join(evil, 'doc.bin'));
      await rename(path.join(w.h.root, 'dept'), path.join(outside, 'dept-moved-away'));
      await symlink(evil, path.join(w.h.root, 'dept'));
    });
    await expectRefused(rt, ids, 'SOURCE_REPLACED', 'chunked_upload');
    expect(await bait!.opened()).toBe(false);
  });

  it('symlink to an outside FIFO before the integrity gate: SOURCE_REPLACED, the gate hashes nothing outside', async () => {
    const rt = await w.runtimeHolding([doQueue('verify_integrity')]);
    const file = await w.h.writeSource('gate.bin', 6 * MiB);
    const ids = await submit(rt, 'gate.bin');
    await until(rt, ids.sagaId, 'the upload to succeed', (s) => stepStatus(s, 'chunked_upload') === 'succeeded');
    const bait = await trap(path.join(outside, 'gate-secret'));
    await unlink(file);
    await symlink(bait.path, file);
    await w.release([doQueue('verify_integrity')]);
    await expectRefused(rt, ids, 'SOURCE_REPLACED', 'verify_integrity');
    expect(await bait.opened()).toBe(false);
  });

  it('hard link to an outside secret before the integrity gate: the inode check refuses it (SOURCE_REPLACED), the secret unread', async () => {
    const rt = await w.runtimeHolding([doQueue('verify_integrity')]);
    const file = await w.h.writeSource('hard.bin', Buffer.from(SECRET.replace(/./g, 'h')));
    const secret = await secretFile('hard-token');
    const ids = await submit(rt, 'hard.bin');
    await until(rt, ids.sagaId, 'the upload to succeed', (s) => stepStatus(s, 'chunked_upload') === 'succeeded');
    const atime = await secret.atimeMs();
    await unlink(file);
    await link(secret.file, file);
    await w.release([doQueue('verify_integrity')]);
    await expectRefused(rt, ids, 'SOURCE_REPLACED', 'verify_integrity');
    expect(await secret.atimeMs()).toBe(atime);
  });

  it('symlink swapped in while its worker is dead: the worker taking the step over refuses it (SOURCE_REPLACED)', async () => {
    const observer = await w.runtime();
    const first = await startWorkerProcess(w, 'worker-1');
    const file = await w.h.writeSource('takeover.bin', 20 * MiB);
    const secret = await secretFile('takeover-token');
    // Slow PUTs, so the upload is still going when its worker dies.
    const slow = w.s3.failWhen({ kind: 'put', key: chunkAt('any'), action: { type: 'delay', ms: 1_500 } });
    const ids = await submit(observer, 'takeover.bin');
    await waitFor(async () => {
      const [row] = await w.h.sql<{ n: number }[]>`select count(*)::int as n from upload_chunks where operation_id = ${ids.operationId}`;
      return (row?.n ?? 0) >= 1;
    }, { what: 'a chunk in the manifest', timeoutMs: 60_000 });
    await crash(first);
    slow.remove();
    const atime = await secret.atimeMs();
    await unlink(file);
    await symlink(secret.file, file);
    const second = await startWorkerProcess(w, 'worker-2');
    const status = await ended(w, observer, ids.sagaId, 150_000);
    expect(status).toMatchObject({ status: 'compensated', rollbackStatus: 'success', failure: { reason: 'SOURCE_REPLACED', step: 'chunked_upload' } });
    expect(await secret.atimeMs()).toBe(atime);
    await expectNothingLeft(w, ids);
    await expectConsistent(w);
    // The worker that refused the file still works: the next document goes through.
    await w.h.writeSource('after-takeover.bin', 1024);
    const next = await submit(observer, 'after-takeover.bin');
    expect((await ended(w, observer, next.sagaId)).status).toBe('completed');
    expect(await Promise.race([second.exited.then(() => 'exited'), Promise.resolve('running')])).toBe('running');
  });

  // Inputs written by a producer before identities were recorded: the saga's input has no sourceIdentity.
  const forgetIdentity = (sagaId: string) => w.h.sql`update saga_instances set input = input - 'sourceIdentity' where id = ${sagaId}`;

  // start_streaming records the pinned identity without opening the file: the upload is the first to open it, and refuses it.
  it('a saga submitted without an identity is pinned by validate_file: a swap after it is still SOURCE_REPLACED, the secret unread', async () => {
    const rt = await w.runtimeHolding([doQueue('validate_file'), doQueue('start_streaming')]);
    const file = await w.h.writeSource('legacy.bin', 1024);
    const secret = await secretFile('legacy-token');
    const atime = await secret.atimeMs();
    const ids = await submit(rt, 'legacy.bin');
    await forgetIdentity(ids.sagaId);
    await w.release([doQueue('validate_file')]);
    await until(rt, ids.sagaId, 'validate_file to succeed', (s) => stepStatus(s, 'validate_file') === 'succeeded');
    await unlink(file);
    await symlink(secret.file, file);
    await w.release([doQueue('start_streaming')]);
    const status = await ended(w, rt, ids.sagaId);
    expect(status).toMatchObject({ status: 'compensated', failure: { reason: 'SOURCE_REPLACED', step: 'chunked_upload' } });
    expect(await secret.atimeMs()).toBe(atime);
    await expectNothingLeft(w, ids);
    await expectConsistent(w);
  });

  it('a saga past validate_file with no identity anywhere rolls back with SOURCE_IDENTITY_UNKNOWN', async () => {
    const rt = await w.runtimeHolding([doQueue('start_streaming')]);
    await w.h.writeSource('older.bin', 1024);
    const ids = await submit(rt, 'older.bin');
    await until(rt, ids.sagaId, 'validate_file to succeed', (s) => stepStatus(s, 'validate_file') === 'succeeded');
    await forgetIdentity(ids.sagaId);
    await w.h.sql`update saga_steps set output = output - 'sourceIdentity' where saga_id = ${ids.sagaId} and name = 'validate_file'`;
    await w.release([doQueue('start_streaming')]);
    const status = await ended(w, rt, ids.sagaId);
    expect(status).toMatchObject({ status: 'compensated', failure: { reason: 'SOURCE_IDENTITY_UNKNOWN', step: 'start_streaming' } });
    expect(status.failure?.message).toMatch(/resubmit/);
    await expectNothingLeft(w, ids);
    await expectConsistent(w);
  });

  it('a source directory made unreadable (a worker not running as root): FILE_NOT_FOUND naming EACCES, at once, no hang', async () => {
    const observer = await w.runtime();
    // Root reads through any permission: the worker runs without the capabilities to, as in a hardened pod.
    await mkdir(path.join(w.h.root, 'vault'));
    await w.h.writeSource('vault/doc.bin', 1024);
    await startWorkerProcess(w, 'worker-bound', {}, true);
    w.s3Net.refuse();
    const ids = await submit(observer, 'vault/doc.bin');
    await until(observer, ids.sagaId, 'the first upload attempt to fail', (s) => s.state === 'upload_failed');
    await chmod(path.join(w.h.root, 'vault'), 0o000);
    w.s3Net.accept();
    const status = await ended(w, observer, ids.sagaId);
    expect(status).toMatchObject({ status: 'compensated', rollbackStatus: 'success', failure: { reason: 'FILE_NOT_FOUND', step: 'chunked_upload' } });
    expect(status.failure?.message).toMatch(/EACCES/);
    await chmod(path.join(w.h.root, 'vault'), 0o755);
    await expectNothingLeft(w, ids);
    await expectConsistent(w);
  });
});
