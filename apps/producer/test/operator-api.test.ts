// The operator API over a real runtime: saga search (filters, stuck, keyset pages, errors), leftovers (list, retry
// now), dead letters (a real one set aside by a worker: list, requeue, discard), queue depths. Every action the
// console offers is one of these calls.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestRuntime } from '@ingest/ingest';
import { createQueueDepthReader, type CleanupSummary, type DeadLetter, type QueueDepth, type SagaSummary } from '@ingest/ops';
import { waitFor } from '@ingest/testkit';
import { buildProducerApp } from '../src/app.ts';
import { createTestEnv, type TestEnv } from './support.ts';

interface SagaList {
  sagas: SagaSummary[];
  nextCursor: string | null;
}

describe('operator API', () => {
  let t: TestEnv;
  let runtime: IngestRuntime;
  let app: FastifyInstance;
  let sql: Sql;
  const ids: string[] = [];

  const get = async <T>(url: string, status = 200): Promise<T> => {
    const res = await app.inject({ method: 'GET', url, headers: { 'x-internal-token': t.token } });
    expect(res.statusCode, res.body).toBe(status);
    return res.json<T>();
  };
  const post = async <T>(url: string, status: number): Promise<T> => {
    const res = await app.inject({ method: 'POST', url, headers: { 'x-internal-token': t.token } });
    expect(res.statusCode, res.body).toBe(status);
    return res.json<T>();
  };

  beforeAll(async () => {
    // Sagas idle for a second with their job unconsumed count as stuck.
    t = await createTestEnv({ STUCK_AFTER_SECONDS: '1' });
    runtime = await t.runtime();
    app = buildProducerApp({ runtime, internalToken: t.token, logger: pino({ level: 'silent' }) });
    await app.ready();
    sql = postgres(t.env.DATABASE_URL!, { max: 2, onnotice: () => {} });
    // No worker runs yet: the three sagas stay at their first step, live.
    for (const name of ['a', 'b', 'c']) {
      const filePath = await t.writeSource(`${name}.txt`, `document ${name}\n`);
      const { sagaId } = await runtime.submit({ filePath, metadata: { title: name } });
      ids.unshift(sagaId);
    }
  });

  afterAll(async () => {
    await app?.close();
    await sql?.end({ timeout: 5 });
    await t?.close();
  });

  it('lists sagas newest first with their summary, filtered, in keyset pages', async () => {
    const all = await get<SagaList>('/v1/sagas');
    expect(all.sagas.map((s) => s.id)).toEqual(ids);
    expect(all.nextCursor).toBeNull();
    expect(all.sagas[0]).toMatchObject({ saga: 'ingest-document', status: 'running', state: 'initialized', currentStep: 'validate_file', phase: 'action', attempts: 0, lastError: null });
    expect(all.sagas[0]!.ageSeconds).toBeGreaterThanOrEqual(0);

    const seen: string[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page: SagaList = await get<SagaList>(`/v1/sagas?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.sagas.length).toBeLessThanOrEqual(1);
      seen.push(...page.sagas.map((s) => s.id));
      cursor = page.nextCursor;
    }
    expect(seen).toEqual(ids);

    expect((await get<SagaList>('/v1/sagas?status=running&saga=ingest-document&step=validate_file')).sagas).toHaveLength(3);
    expect((await get<SagaList>('/v1/sagas?status=completed')).sagas).toHaveLength(0);
    expect((await get<SagaList>('/v1/sagas?step=finalize')).sagas).toHaveLength(0);
    expect((await get<SagaList>('/v1/sagas?state=initialized')).sagas).toHaveLength(3);
    const future = new Date(Date.now() + 60_000).toISOString();
    expect((await get<SagaList>(`/v1/sagas?createdAfter=${future}`)).sagas).toHaveLength(0);
    expect((await get<SagaList>(`/v1/sagas?createdBefore=${future}`)).sagas).toHaveLength(3);
    // Idle past STUCK_AFTER_SECONDS with no lease: stuck.
    await waitFor(async () => (await get<SagaList>('/v1/sagas?stuck=true')).sagas.length === 3, { what: 'three stuck sagas', timeoutMs: 30_000 });
  });

  it('answers bad filters with 400 INVALID_REQUEST naming each field, and 401 without the token', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/sagas?status=bogus&limit=0&cursor=nope&createdAfter=yesterday&stuck=maybe', headers: { 'x-internal-token': t.token } });
    expect(res.statusCode).toBe(400);
    const body = res.json<{ error: { code: string; fields: { field: string }[] } }>();
    expect(body.error.code).toBe('INVALID_REQUEST');
    expect(body.error.fields.map((f) => f.field).sort()).toEqual(['createdAfter', 'cursor', 'limit', 'status', 'stuck']);
    const unknownStep = await app.inject({ method: 'GET', url: '/v1/sagas?step=nope', headers: { 'x-internal-token': t.token } });
    expect(unknownStep.json()).toMatchObject({ error: { code: 'INVALID_REQUEST', fields: [{ field: 'step' }] } });
    for (const url of ['/v1/sagas', '/v1/cleanups', '/v1/dead-letters', '/v1/queues']) {
      expect((await app.inject({ method: 'GET', url })).statusCode).toBe(401);
    }
    expect((await app.inject({ method: 'POST', url: '/v1/cleanups/1/retry' })).statusCode).toBe(401);
  });

  it('lists leftovers and retries one now: resolved when its store removes it, the error kept when not', async () => {
    const sagaId = ids[0]!;
    // A relational row that is already gone (its undo succeeds) and a store the saga does not declare (it fails).
    const [gone, unknown] = await sql<{ id: number }[]>`insert into failed_cleanups (saga_id, step, store, key, error, next_attempt_at) values
      (${sagaId}, 'relational_insert', 'relational', ${randomUUID()}, 'relational store down', now() + interval '1 hour'),
      (${sagaId}, 'graph_insert', 'no-such-store', 'k', 'graph store down', now() + interval '1 hour') returning id::int as id`;
    const open = await get<{ cleanups: CleanupSummary[] }>('/v1/cleanups?state=open');
    expect(open.cleanups.map((c) => c.id)).toEqual([unknown!.id, gone!.id]);

    // Not due for an hour: the retry runs it anyway.
    const ok = await post<{ resolved: boolean; cleanup: CleanupSummary }>(`/v1/cleanups/${gone!.id}/retry`, 200);
    expect(ok.resolved).toBe(true);
    expect(ok.cleanup.resolvedAt).not.toBeNull();
    const failed = await post<{ resolved: boolean; cleanup: CleanupSummary }>(`/v1/cleanups/${unknown!.id}/retry`, 200);
    expect(failed.resolved).toBe(false);
    expect(failed.cleanup.lastError).toContain('declares no store "no-such-store"');
    expect(failed.cleanup.attempts).toBe(1);

    expect((await get<{ cleanups: CleanupSummary[] }>('/v1/cleanups?state=resolved')).cleanups.map((c) => c.id)).toEqual([gone!.id]);
    expect((await get<{ cleanups: CleanupSummary[] }>('/v1/cleanups')).cleanups.map((c) => c.id)).toEqual([unknown!.id]);
    expect(await post(`/v1/cleanups/999999/retry`, 404)).toMatchObject({ error: { code: 'CLEANUP_NOT_FOUND' } });
    expect(await get('/v1/cleanups?state=both', 400)).toMatchObject({ error: { code: 'INVALID_REQUEST', fields: [{ field: 'state' }] } });
  });

  it('reports every queue; a malformed job becomes a dead letter that can be requeued and discarded', async () => {
    const queues = await get<{ queues: QueueDepth[] }>('/v1/queues');
    expect(queues.queues.map((q) => q.queue).sort()).toEqual(runtime.engine.queueNames().sort());
    const first = queues.queues.find((q) => q.queue.includes('.validate_file.do'))!;
    expect(first).toMatchObject({ waiting: 3, active: 0, failed: 0 });

    await runtime.startWorkers({ concurrency: 2 });
    const reader = createQueueDepthReader({ redisUrl: t.env.REDIS_URL!, prefix: t.env.QUEUE_PREFIX!, queues: [first.queue] });
    try {
      expect(await reader.enqueue(first.queue, { not: 'a saga job' }, 'malformed-1')).toBe(true);
    } finally {
      await reader.close();
    }
    const letters = await waitFor(async () => {
      const l = await get<{ deadLetters: DeadLetter[] }>('/v1/dead-letters');
      return l.deadLetters.length === 1 ? l.deadLetters : undefined;
    }, { what: 'the dead letter', timeoutMs: 60_000 });
    expect(letters[0]).toMatchObject({ queue: first.queue, jobId: 'malformed-1', data: { not: 'a saga job' } });

    // Requeued, it is malformed still: a worker sets it aside again, as a new dead letter.
    const requeued = await post<{ id: number; queue: string }>(`/v1/dead-letters/${letters[0]!.id}/requeue`, 202);
    expect(requeued).toMatchObject({ id: letters[0]!.id, queue: first.queue });
    const again = await waitFor(async () => {
      const l = await get<{ deadLetters: DeadLetter[] }>('/v1/dead-letters');
      return l.deadLetters.length === 1 && l.deadLetters[0]!.id !== letters[0]!.id ? l.deadLetters[0] : undefined;
    }, { what: 'the requeued job set aside again', timeoutMs: 60_000 });
    expect(again.data).toEqual({ not: 'a saga job' });

    expect(await post(`/v1/dead-letters/${again.id}/discard`, 200)).toEqual({ id: again.id, discarded: true });
    expect((await get<{ deadLetters: DeadLetter[] }>('/v1/dead-letters')).deadLetters).toEqual([]);
    expect(await post(`/v1/dead-letters/${again.id}/discard`, 404)).toMatchObject({ error: { code: 'DEAD_LETTER_NOT_FOUND' } });
  });
});
