// The producer's HTTP layer over a real runtime (PostgreSQL, Redis, S3), driven with fastify's inject:
// auth, validation, status codes, the error body, metrics, and that the token never reaches a log line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { IngestRuntime } from '@ingest/ingest';
import { BODY_LIMIT_BYTES, buildProducerApp } from '../src/app.ts';
import { createProducerLogger } from '../src/logger.ts';
import { createTestEnv, type TestEnv } from './support.ts';

const UNKNOWN_UUID = '3f2b8c1e-5d4a-4e6f-9a8b-7c6d5e4f3a2b';

describe('producer HTTP API', () => {
  let t: TestEnv;
  let runtime: IngestRuntime;
  let app: FastifyInstance;
  const logLines: string[] = [];
  const auth = (): Record<string, string> => ({ 'x-internal-token': t.token });

  beforeAll(async () => {
    t = await createTestEnv();
    runtime = await t.runtime();
    // Trace level: whatever the API logs, at any level, is searched for the token below.
    app = buildProducerApp({ runtime, internalToken: t.token, logger: createProducerLogger('trace', { write: (line: string) => void logLines.push(line) }) });
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it('serves /healthz without a token, from real dependency checks', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ ok: true, checks: { postgres: 'ok', redis: 'ok', s3: 'ok' } });
  });

  it('answers 401 with a JSON error for a missing, wrong, or wrong-length token', async () => {
    for (const headers of [{}, { 'x-internal-token': `${t.token.slice(0, -1)}!` }, { 'x-internal-token': 'short' }]) {
      const res = await app.inject({ method: 'GET', url: '/v1/stats', headers });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: 'missing or invalid X-Internal-Token' } });
    }
    const post = await app.inject({ method: 'POST', url: '/v1/documents', payload: { filePath: 'a', metadata: { title: 't' } } });
    expect(post.statusCode).toBe(401);
  });

  it('serves /v1/stats with the token', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/stats', headers: auth() });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ active: 0, completed: 0, pendingCleanups: 0 });
  });

  it('answers 400 INVALID_REQUEST for a body that is not JSON', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/documents', headers: { ...auth(), 'content-type': 'application/json' }, payload: '{"filePath": ' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'INVALID_REQUEST', fields: [{ field: '(body)' }] } });
    const xml = await app.inject({ method: 'POST', url: '/v1/documents', headers: { ...auth(), 'content-type': 'application/xml' }, payload: '<doc/>' });
    expect(xml.statusCode).toBe(400);
    expect(xml.json().error.code).toBe('INVALID_REQUEST');
  });

  it('answers 413 with a JSON error for a body over the limit, and 400 for inline content over its own limit', async () => {
    const huge = await app.inject({
      method: 'POST',
      url: '/v1/documents',
      headers: auth(),
      payload: { filePath: 'a.bin', metadata: { title: 'x' }, content: 'x'.repeat(BODY_LIMIT_BYTES) },
    });
    expect(huge.statusCode).toBe(413);
    expect(huge.json().error.code).toBe('PAYLOAD_TOO_LARGE');
    const long = await app.inject({
      method: 'POST',
      url: '/v1/documents',
      headers: auth(),
      payload: { filePath: 'a.bin', metadata: { title: 'x' }, content: 'x'.repeat(1024 * 1024 + 1) },
    });
    expect(long.statusCode).toBe(400);
    expect(long.json().error.fields).toEqual([expect.objectContaining({ field: 'content' })]);
  });

  it('answers 400 naming every missing or invalid field', async () => {
    const empty = await app.inject({ method: 'POST', url: '/v1/documents', headers: auth(), payload: {} });
    expect(empty.statusCode).toBe(400);
    const fields = (empty.json().error.fields as { field: string }[]).map((f) => f.field);
    expect(fields).toEqual(expect.arrayContaining(['filePath', 'metadata']));

    const noTitle = await app.inject({ method: 'POST', url: '/v1/documents', headers: auth(), payload: { filePath: 'a.bin', metadata: { securityLevel: 'top' } } });
    expect(noTitle.statusCode).toBe(400);
    const named = (noTitle.json().error.fields as { field: string }[]).map((f) => f.field);
    expect(named).toEqual(expect.arrayContaining(['metadata.title', 'metadata.securityLevel']));
  });

  it('answers 400 for a malformed Idempotency-Key header, naming it', async () => {
    await t.writeSource('idem.bin', Buffer.alloc(1024, 1));
    const res = await app.inject({
      method: 'POST',
      url: '/v1/documents',
      headers: { ...auth(), 'idempotency-key': 'x'.repeat(201) },
      payload: { filePath: 'idem.bin', metadata: { title: 'idem' } },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.fields).toEqual([expect.objectContaining({ field: 'Idempotency-Key' })]);
  });

  it('answers 422 for a source outside SOURCE_ROOT or missing, naming the field', async () => {
    const outside = await app.inject({ method: 'POST', url: '/v1/documents', headers: auth(), payload: { filePath: '../../etc/passwd', metadata: { title: 'x' } } });
    expect(outside.statusCode).toBe(422);
    expect(outside.json()).toMatchObject({ error: { code: 'PATH_OUTSIDE_ROOT', fields: [{ field: 'filePath' }] } });
    const missing = await app.inject({ method: 'POST', url: '/v1/documents', headers: auth(), payload: { filePath: 'nope.bin', metadata: { title: 'x' } } });
    expect(missing.statusCode).toBe(422);
    expect(missing.json().error.code).toBe('SOURCE_NOT_FOUND');
  });

  it('answers 404 for an unknown saga or document and 400 for an id that is not a UUID', async () => {
    const saga = await app.inject({ method: 'GET', url: `/v1/sagas/${UNKNOWN_UUID}`, headers: auth() });
    expect(saga.statusCode).toBe(404);
    expect(saga.json().error.code).toBe('SAGA_NOT_FOUND');
    const cancel = await app.inject({ method: 'POST', url: `/v1/sagas/${UNKNOWN_UUID}/cancel`, headers: auth() });
    expect(cancel.statusCode).toBe(404);
    const doc = await app.inject({ method: 'GET', url: `/v1/documents/${UNKNOWN_UUID}`, headers: auth() });
    expect(doc.statusCode).toBe(404);
    expect(doc.json().error.code).toBe('DOCUMENT_NOT_FOUND');
    const content = await app.inject({ method: 'GET', url: `/v1/documents/${UNKNOWN_UUID}/content`, headers: auth() });
    expect(content.statusCode).toBe(404);
    const bad = await app.inject({ method: 'GET', url: '/v1/sagas/not-a-uuid', headers: auth() });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ error: { code: 'INVALID_REQUEST', message: expect.any(String), fields: [{ field: 'id', message: 'must be a UUID' }] } });
  });

  it('accepts a document with 202, answers a repeated idempotency key with the same saga, and 409 names the holder', async () => {
    const filePath = await t.writeSource('docs/report.bin', Buffer.alloc(64 * 1024, 7));
    const body = { filePath, metadata: { title: 'Report', category: 'finance', securityLevel: 'internal' } };
    const first = await app.inject({ method: 'POST', url: '/v1/documents', headers: { ...auth(), 'idempotency-key': 'report-1', 'x-requested-by': 'erp' }, payload: body });
    expect(first.statusCode).toBe(202);
    const { sagaId, statusUrl } = first.json() as { sagaId: string; statusUrl: string };
    expect(statusUrl).toBe(`/v1/sagas/${sagaId}`);

    const again = await app.inject({ method: 'POST', url: '/v1/documents', headers: { ...auth(), 'idempotency-key': 'report-1' }, payload: body });
    expect(again.statusCode).toBe(202);
    expect(again.json().sagaId).toBe(sagaId);

    const locked = await app.inject({ method: 'POST', url: '/v1/documents', headers: auth(), payload: body });
    expect(locked.statusCode).toBe(409);
    expect(locked.json().error).toMatchObject({ code: 'LOCKED', holderSagaId: sagaId });

    const status = await app.inject({ method: 'GET', url: statusUrl, headers: auth() });
    expect(status.statusCode).toBe(200);
    expect(status.json()).toMatchObject({ sagaId, status: 'running' });

    const cancel = await app.inject({ method: 'POST', url: `${statusUrl}/cancel`, headers: auth() });
    expect(cancel.statusCode).toBe(202);
    expect(cancel.json()).toMatchObject({ sagaId, accepted: true, state: expect.any(String) });
  });

  it('serves Prometheus metrics with the token only: HTTP counts by route and status, saga gauges, process metrics', async () => {
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    const res = await app.inject({ method: 'GET', url: '/metrics', headers: auth() });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toMatch(/http_requests_total\{method="GET",route="\/v1\/sagas\/:id",status="404"\} 1/);
    expect(res.body).toMatch(/http_request_duration_seconds_count\{method="POST",route="\/v1\/documents",status="202"\} \d+/);
    expect(res.body).toMatch(/ingest_sagas\{status="active"\} \d+/);
    expect(res.body).toMatch(/ingest_pending_cleanups \d+/);
    expect(res.body).toContain('process_cpu_user_seconds_total');
  });

  it('never writes the token to a log line', () => {
    expect(logLines.length).toBeGreaterThan(10);
    expect(logLines.filter((l) => l.includes(t.token))).toEqual([]);
  });
});
