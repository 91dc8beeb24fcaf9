// Edge case 4 (seeds/004): several sagas on the same file. DESIGN §3 answers the seed's recommendation with a
// per-file lock: a second saga on a locked file is refused naming the holder (or, with the same idempotency key,
// answered with it); Redis holds the lock and PostgreSQL's live-lock index refuses even when Redis lost it.
// Different files with the same bytes are independent operations: one's rollback never touches the other's chunks.
import { copyFile, symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { flushPrefix, requireEnv } from '@ingest/testkit';
import { SagaLockedError } from '@ingest/saga-core';
import { ended, expectConsistent, expectNothingLeft, expectReadBack, stepStatus, submit, until } from './outcome.ts';
import { createMatrixWorld, doQueue, type MatrixWorld } from './world.ts';

const MiB = 1024 * 1024;
let w: MatrixWorld;

beforeAll(async () => {
  w = await createMatrixWorld();
});
afterEach(async () => w.endTest());
afterAll(async () => w?.close());

describe('edge case 4: concurrent sagas on one file', () => {
  it('a second saga on a locked file is refused naming the holder (also through a symlink); the same idempotency key gets the first saga; once it ends the file is free', async () => {
    const rt = await w.runtimeHolding([doQueue('verify_integrity')]);
    await w.h.writeSource('shared.bin', 7 * MiB);
    await symlink(path.join(w.h.root, 'shared.bin'), path.join(w.h.root, 'alias.bin'));
    const first = await rt.submit({ filePath: 'shared.bin', metadata: { title: 'first' } }, { idempotencyKey: 'upstream-42' });
    expect(first.created).toBe(true);
    await until(rt, first.sagaId, 'the upload to succeed', (s) => stepStatus(s, 'chunked_upload') === 'succeeded');

    for (const filePath of ['shared.bin', 'alias.bin']) {
      const refused = await rt.submit({ filePath, metadata: { title: 'second' } }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(SagaLockedError);
      expect(refused).toMatchObject({ code: 'LOCKED', holderSagaId: first.sagaId, lockKey: `file:${path.join(w.h.root, 'shared.bin')}` });
    }
    expect(await rt.submit({ filePath: 'shared.bin', metadata: { title: 'again' } }, { idempotencyKey: 'upstream-42' })).toEqual({ sagaId: first.sagaId, created: false });
    const [count] = await w.h.sql<{ n: number }[]>`select count(*)::int as n from saga_instances`;

    await w.release([doQueue('verify_integrity')]);
    expect((await ended(w, rt, first.sagaId)).status).toBe('completed');
    const second = await submit(rt, 'alias.bin');
    expect((await ended(w, rt, second.sagaId)).status).toBe('completed');
    const [after] = await w.h.sql<{ n: number }[]>`select count(*)::int as n from saga_instances`;
    expect(after!.n).toBe(count!.n + 1);
    await expectConsistent(w);
  });

  it('two files with the same bytes run side by side; rolling one back deletes only its own chunks, the other commits byte-identical', async () => {
    const rt = await w.runtimeHolding([doQueue('verify_integrity')]);
    await w.h.writeSource('twin-a.bin', 11 * MiB);
    await copyFile(path.join(w.h.root, 'twin-a.bin'), path.join(w.h.root, 'twin-b.bin'));
    const a = await submit(rt, 'twin-a.bin');
    const b = await submit(rt, 'twin-b.bin');
    for (const ids of [a, b]) await until(rt, ids.sagaId, 'the upload to succeed', (s) => stepStatus(s, 'chunked_upload') === 'succeeded');
    await rt.cancel(a.sagaId);
    expect((await ended(w, rt, a.sagaId)).status).toBe('compensated');
    expect((await w.h.storedKeys()).filter((k) => k.startsWith(`chunks/${b.operationId}/`))).toHaveLength(3);
    await w.release([doQueue('verify_integrity')]);
    expect((await ended(w, rt, b.sagaId)).status).toBe('completed');
    await expectNothingLeft(w, a);
    await expectReadBack(w, rt, b.documentId, 'twin-b.bin');
    await expectConsistent(w);
  });

  it('Redis loses everything (lock and queued job): PostgreSQL still refuses a second saga on the file, and the first is re-dispatched from PostgreSQL and completes', async () => {
    const rt = await w.runtimeHolding([doQueue('verify_integrity')]);
    await w.h.writeSource('amnesia.bin', 7 * MiB);
    const first = await submit(rt, 'amnesia.bin');
    await until(rt, first.sagaId, 'the upload to succeed', (s) => stepStatus(s, 'chunked_upload') === 'succeeded');
    expect(await flushPrefix(requireEnv('REDIS_URL'), rt.config.QUEUE_PREFIX)).toBeGreaterThan(0);

    const refused = await rt.submit({ filePath: 'amnesia.bin', metadata: { title: 'second' } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SagaLockedError);
    expect(refused).toMatchObject({ holderSagaId: first.sagaId });

    await w.release([doQueue('verify_integrity')], { STUCK_AFTER_SECONDS: '1' });
    const status = await ended(w, rt, first.sagaId, 60_000);
    expect(status.status).toBe('completed');
    const redispatched = await w.h.sql`select 1 from saga_events where saga_id = ${first.sagaId} and type = 'job_redispatched'`;
    expect(redispatched.length).toBeGreaterThanOrEqual(1);
    await expectConsistent(w);
  });
});
