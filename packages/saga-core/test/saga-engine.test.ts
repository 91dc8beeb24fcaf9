import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@ingest/testkit';
import { SagaDefinitionError, UnknownSagaError, assertTransition, defineSaga, IllegalTransitionError, type SagaEngine } from '../src/index.ts';
import { STEP_NAMES, orderSaga } from './fixtures/test-sagas.ts';
import { createHarness, effectsOf, type Harness } from './helpers.ts';

let h: Harness;
let engine: SagaEngine;

beforeAll(async () => {
  h = await createHarness();
  engine = await h.engine([orderSaga(h.sql)]);
  await engine.startWorkers({ concurrency: 4, maintenanceIntervalMs: 0 });
});
afterAll(async () => h.close());

describe('saga engine on real Redis and PostgreSQL', () => {
  it('runs every step once, in order, and completes', async () => {
    const { sagaId } = await engine.start('order', {});
    const view = await h.waitForEnd(engine, sagaId);
    expect(view.status).toBe('completed');
    expect(view.state).toBe('completed');
    expect(await effectsOf(h.sql, sagaId)).toEqual(STEP_NAMES.map((s) => `${s}:do`));
    expect(view.steps.map((s) => [s.name, s.status, s.attempts])).toEqual(STEP_NAMES.map((s) => [s, 'succeeded', 1]));
    expect(view.steps[0]?.output).toMatchObject({ step: 'reserve' });
    const events = await h.sql`select type from saga_events where saga_id = ${sagaId} order by id`;
    expect(events.map((e) => e.type)).toContain('saga_completed');
  });

  it.each(STEP_NAMES.map((name, i) => [name, i] as const))('a fatal error at step %s compensates exactly the completed steps, in reverse', async (name, i) => {
    const { sagaId } = await engine.start('order', { fatalAt: name });
    const view = await h.waitForEnd(engine, sagaId);
    const done = STEP_NAMES.slice(0, i);
    expect(await effectsOf(h.sql, sagaId)).toEqual([...done.map((s) => `${s}:do`), ...[...done].reverse().map((s) => `${s}:undo`)]);
    expect(view.status).toBe(i === 0 ? 'failed' : 'compensated');
    expect(view.state).toBe('rolled_back');
    expect(view.failure).toMatchObject({ reason: 'TEST_FATAL', step: name });
    expect(view.steps[i]).toMatchObject({ status: 'failed', attempts: 1 });
  });

  it('a compensation that always fails ends compensation_failed, still runs the earlier ones, and records the leftover', async () => {
    const { sagaId } = await engine.start('order', { fatalAt: 'notify', compensationFailsAt: 'charge' });
    const view = await h.waitForEnd(engine, sagaId);
    expect(view.status).toBe('compensation_failed');
    expect(view.state).toBe('rollback_failed');
    expect(await effectsOf(h.sql, sagaId)).toEqual(['reserve:do', 'charge:do', 'ship:do', 'ship:undo', 'reserve:undo']);
    const attempts = await h.sql`select count(*)::int as n from runs where saga_id = ${sagaId} and kind = 'undo-fail'`;
    expect(attempts[0]?.n).toBe(2);
    expect(view.failedCleanups).toEqual([expect.objectContaining({ step: 'charge', store: 'test-store', key: `${sagaId}/charge`, resolvedAt: null })]);
    expect(view.compensationErrors).toEqual([expect.stringContaining('charge: CompensationFailed: cannot undo charge')]);
    const alerts = await h.sql`select type from saga_alerts where saga_id = ${sagaId}`;
    expect(alerts.map((a) => a.type).sort()).toEqual(['COMPENSATION_FAILED', 'ROLLBACK_FAILED']);
    expect((await engine.stats()).pendingCleanups).toBeGreaterThanOrEqual(1);
  });

  it('retries a retryable error and then succeeds', async () => {
    const { sagaId } = await engine.start('order', { flakyAt: 'ship', flakyTimes: 2 });
    const view = await h.waitForEnd(engine, sagaId);
    expect(view.status).toBe('completed');
    expect(view.steps.find((s) => s.name === 'ship')?.attempts).toBe(3);
    expect(await effectsOf(h.sql, sagaId)).toEqual(STEP_NAMES.map((s) => `${s}:do`));
  });

  it('exhausted retries roll back with MAX_RETRIES_EXCEEDED', async () => {
    const { sagaId } = await engine.start('order', { alwaysFailAt: 'charge' });
    const view = await h.waitForEnd(engine, sagaId);
    expect(view.status).toBe('compensated');
    expect(view.failure?.reason).toBe('MAX_RETRIES_EXCEEDED');
    expect(view.steps[1]?.attempts).toBe(3);
    expect(await effectsOf(h.sql, sagaId)).toEqual(['reserve:do', 'reserve:undo']);
  });

  it('a fatal error skips the remaining retries', async () => {
    const { sagaId } = await engine.start('order', { fatalAt: 'ship' });
    const view = await h.waitForEnd(engine, sagaId);
    const tries = await h.sql`select count(*)::int as n from runs where saga_id = ${sagaId} and step = 'ship' and kind = 'try'`;
    expect(tries[0]?.n).toBe(1);
    expect(view.steps[2]?.attempts).toBe(1);
  });

  it('the same job delivered twice has one effect', async () => {
    const { sagaId } = await engine.start('order', {});
    await h.waitForEnd(engine, sagaId);
    const q = (await import('bullmq')).Queue;
    const queue = new q('order.ship.do', { connection: { url: h.redisUrl }, prefix: h.prefix });
    // Replays of earlier dispatches of the same saga, under fresh job ids so BullMQ delivers them again.
    for (const seq of [1, 2, 3, 4]) await queue.add('step', { sagaId, seq, step: 2, phase: 'action' }, { jobId: `replay-${sagaId}-${seq}` });
    await waitFor(async () => (await queue.getJobCounts('wait', 'active', 'delayed')).wait === 0 && (await queue.getJobCounts('active')).active === 0, { what: 'replays consumed' });
    await queue.close();
    const tries = await h.sql`select count(*)::int as n from runs where saga_id = ${sagaId} and step = 'ship'`;
    expect(tries[0]?.n).toBe(2); // one 'try' and one 'do' from the single real run
    expect(await effectsOf(h.sql, sagaId)).toEqual(STEP_NAMES.map((s) => `${s}:do`));
    const dead = await h.sql`select count(*)::int as n from saga_dead_letters`;
    expect(dead[0]?.n).toBe(0);
  });

  it('refuses an illegal transition and never applies it', async () => {
    expect(() => assertTransition('completed', 'uploading')).toThrow(IllegalTransitionError);
    expect(() => assertTransition('rolled_back', 'processing')).toThrow(/illegal saga transition rolled_back -> processing/);
    const { sagaId } = await engine.start('order', {});
    await h.waitForEnd(engine, sagaId);
    const result = await engine.cancel(sagaId);
    expect(result).toEqual({ accepted: false, state: 'completed' });
    expect((await engine.get(sagaId)).state).toBe('completed');
  });

  it('sets malformed jobs aside with a reason and keeps working', async () => {
    const { Queue } = await import('bullmq');
    const queue = new Queue('order.reserve.do', { connection: { url: h.redisUrl }, prefix: h.prefix });
    await queue.add('step', { hello: 'world' }, { jobId: 'garbage-1' });
    await queue.add('step', { sagaId: '00000000-0000-4000-8000-000000000000', seq: 1, step: 0, phase: 'action' }, { jobId: 'garbage-2' });
    await queue.add('step', 'not even an object', { jobId: 'garbage-3' });
    await queue.close();
    const rows = await waitFor(async () => {
      const r = await h.sql`select job_id, reason from saga_dead_letters where job_id like 'garbage-%' order by job_id`;
      return r.length === 3 ? r : undefined;
    });
    expect(rows[0]?.reason).toMatch(/malformed job: sagaId must be a uuid/);
    expect(rows[1]?.reason).toMatch(/no saga with id 00000000/);
    expect(rows[2]?.reason).toMatch(/job data is not an object/);
    const { sagaId } = await engine.start('order', {});
    expect((await h.waitForEnd(engine, sagaId)).status).toBe('completed');
  });

  it('rejects bad definitions and unknown sagas with clear errors', async () => {
    const noop = async () => {};
    expect(() => defineSaga({ name: 'bad', steps: [{ name: 'a', action: noop }, { name: 'a', action: noop }] })).toThrow(/step 1 \("a"\): duplicate step name/);
    expect(() => defineSaga({ name: 'bad', steps: [{ name: 'a' } as never] })).toThrow(SagaDefinitionError);
    expect(() => defineSaga({ name: 'bad', steps: [{ name: 'a' } as never] })).toThrow(/action handler is missing/);
    expect(() => defineSaga({ name: 'bad:name', steps: [{ name: 'a', action: noop }] })).toThrow(/name "bad:name" must match/);
    expect(() => defineSaga({ name: 'bad', steps: [{ name: 'a', action: noop, retry: { attempts: 0, backoffMs: 1 } }] })).toThrow(/attempts must be an integer >= 1/);
    expect(() => defineSaga({ name: 'bad', steps: [{ name: 'a', action: noop, concurrency: 0 }] })).toThrow(/step 0 \("a"\): concurrency must be a positive integer/);
    await expect(engine.start('nope', {})).rejects.toThrow(UnknownSagaError);
  });

  it('reports stats from PostgreSQL', async () => {
    const stats = await engine.stats();
    expect(stats.completed).toBeGreaterThanOrEqual(4);
    expect(stats.compensated).toBeGreaterThanOrEqual(3);
    expect(stats.compensationFailed).toBeGreaterThanOrEqual(1);
    expect(stats.failed).toBeGreaterThanOrEqual(1);
    expect(stats.successRate).toBeGreaterThan(0);
    expect(stats.successRate).toBeLessThan(100);
  });
});
