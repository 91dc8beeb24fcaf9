// Locks, deadlines, cancellation, idempotency keys.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { randomId, waitFor } from '@ingest/testkit';
import { SagaLockedError, type SagaEngine } from '../src/index.ts';
import { orderSaga } from './fixtures/test-sagas.ts';
import { createHarness, effectsOf, type Harness } from './helpers.ts';

let h: Harness;
let engine: SagaEngine;

beforeAll(async () => {
  h = await createHarness();
  engine = await h.engine([orderSaga(h.sql)]);
  await engine.startWorkers({ concurrency: 4, maintenanceIntervalMs: 0 });
});
afterAll(async () => h.close());

describe('per-file lock', () => {
  it('refuses a second saga on a locked file, naming the holder, and frees the file at the end', async () => {
    const lockKey = `file-${randomId()}`;
    const gate = `gate-${randomId()}`;
    const a = await engine.start('order', { blockAt: 'reserve', gate }, { lockKey });
    const err = await engine.start('order', {}, { lockKey }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SagaLockedError);
    expect((err as SagaLockedError).holderSagaId).toBe(a.sagaId);
    expect((err as Error).message).toContain(a.sagaId);
    await h.sql`insert into gates (name) values (${gate})`;
    expect((await h.waitForEnd(engine, a.sagaId)).status).toBe('completed');
    const redis = new Redis(h.redisUrl);
    expect(await redis.get(`${h.prefix}:lock:${lockKey}`)).toBeNull();
    redis.disconnect();
    const b = await engine.start('order', {}, { lockKey });
    expect((await h.waitForEnd(engine, b.sagaId)).status).toBe('completed');
  });

  it('still refuses when Redis lost the lock: PostgreSQL is the backstop', async () => {
    const lockKey = `file-${randomId()}`;
    const gate = `gate-${randomId()}`;
    const a = await engine.start('order', { blockAt: 'reserve', gate }, { lockKey });
    const redis = new Redis(h.redisUrl);
    await redis.del(`${h.prefix}:lock:${lockKey}`);
    const err = await engine.start('order', {}, { lockKey }).catch((e: unknown) => e);
    expect((err as SagaLockedError).code).toBe('LOCKED');
    expect((err as SagaLockedError).holderSagaId).toBe(a.sagaId);
    expect(await redis.get(`${h.prefix}:lock:${lockKey}`)).toBeNull();
    redis.disconnect();
    await h.sql`insert into gates (name) values (${gate})`;
    await h.waitForEnd(engine, a.sagaId);
  });

  it('takes over a lock whose holder has ended (stale lock)', async () => {
    const lockKey = `file-${randomId()}`;
    const a = await engine.start('order', {}, { lockKey });
    await h.waitForEnd(engine, a.sagaId);
    const redis = new Redis(h.redisUrl);
    await redis.set(`${h.prefix}:lock:${lockKey}`, a.sagaId); // as if the release had been lost
    const b = await engine.start('order', {}, { lockKey });
    expect(await redis.get(`${h.prefix}:lock:${lockKey}`)).toBe(b.sagaId);
    redis.disconnect();
    await h.waitForEnd(engine, b.sagaId);
  });

  it('returns the same saga for the same idempotency key', async () => {
    const key = `idem-${randomId()}`;
    const a = await engine.start('order', {}, { idempotencyKey: key });
    const b = await engine.start('order', {}, { idempotencyKey: key });
    expect(a.created).toBe(true);
    expect(b).toEqual({ sagaId: a.sagaId, created: false });
    await h.waitForEnd(engine, a.sagaId);
  });
});

describe('deadline and cancellation', () => {
  it('a saga past its deadline rolls back (TIMEOUT), compensating what was done', async () => {
    const { sagaId } = await engine.start('order', { hangAt: 'ship' }, { timeoutSeconds: 2 });
    const view = await h.waitForEnd(engine, sagaId);
    expect(view.status).toBe('compensated');
    expect(view.failure).toMatchObject({ reason: 'TIMEOUT', step: 'ship' });
    expect(await effectsOf(h.sql, sagaId)).toEqual(['reserve:do', 'charge:do', 'charge:undo', 'reserve:undo']);
  });

  it('a saga whose job waits past the deadline is rolled back by maintenance', async () => {
    // Its own prefix: no worker consumes its queues, so the first job just waits.
    const idle = await h.engine([orderSaga(h.sql)], { prefix: `${h.prefix}idle` });
    const { sagaId } = await idle.start('order', {}, { timeoutSeconds: 1 });
    await waitFor(async () => (await h.sql`select 1 from saga_instances where id = ${sagaId} and deadline_at < now()`).length > 0);
    const r = await idle.maintain();
    expect(r.rolledBackOverdue).toBe(1);
    // Nothing had taken effect, so the rollback had nothing to undo: status failed.
    const view = await h.waitForEnd(idle, sagaId);
    expect(view.status).toBe('failed');
    expect(view.failure?.reason).toBe('TIMEOUT');
  });

  it('cancel mid-step aborts the step and rolls back (CANCELLED)', async () => {
    const { sagaId } = await engine.start('order', { hangAt: 'charge' });
    await waitFor(async () => (await h.sql`select 1 from effects where saga_id = ${sagaId} and kind = 'hanging'`).length > 0);
    const r = await engine.cancel(sagaId);
    expect(r.accepted).toBe(true);
    const view = await h.waitForEnd(engine, sagaId);
    expect(view.status).toBe('compensated');
    expect(view.failure).toMatchObject({ reason: 'CANCELLED', step: 'charge' });
    expect(await effectsOf(h.sql, sagaId)).toEqual(['reserve:do', 'reserve:undo']);
    const events = await h.sql`select type from saga_events where saga_id = ${sagaId} order by id`;
    expect(events.map((e) => e.type)).toContain('cancel_requested');
  });
});
