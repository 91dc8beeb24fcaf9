// Named tokens with scopes (INTERNAL_TOKENS): parsing, 401/403 per scope, rotation (old and new accepted together),
// the per-address rate limit of failed attempts (429) and its metric, and logs that name the caller, never the
// secret. The HTTP part runs over a real runtime (PostgreSQL, Redis, S3) and, at the end, as a real process.
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { IngestRuntime } from '@ingest/ingest';
import { spawnProcess, stopAllProcesses } from '@ingest/testkit';
import { parseApiTokens } from '../src/api-tokens.ts';
import { createAuthFailureLimiter } from '../src/auth-failure-limiter.ts';
import { buildProducerApp } from '../src/app.ts';
import { createProducerLogger } from '../src/logger.ts';
import { REPO_ROOT, createTestEnv, type TestEnv } from './support.ts';

const SUBMITTER = 'submitter-secret-0123456789';
const READER = 'reader-secret-0123456789abc';
const OPS_OLD = 'operator-old-secret-0123456789';
const OPS_NEW = 'operator-new-secret-0123456789';
const TOKENS = `upstream:${SUBMITTER}:submit+read, dashboard:${READER}:read, ops:${OPS_OLD}:*, ops:${OPS_NEW}:operate+read`;
const UNKNOWN_UUID = '3f2b8c1e-5d4a-4e6f-9a8b-7c6d5e4f3a2b';

describe('parseApiTokens', () => {
  it('reads name:secret[:scopes] entries; no scopes or * means every scope; INTERNAL_TOKEN is "internal" with every scope', () => {
    const { tokens, problems } = parseApiTokens('single-token-0123456789', `a:${SUBMITTER}:submit, b:${READER}`);
    expect(problems).toEqual([]);
    expect(tokens.map((t) => [t.name, [...t.scopes].sort()])).toEqual([
      ['internal', ['operate', 'read', 'submit']],
      ['a', ['submit']],
      ['b', ['operate', 'read', 'submit']],
    ]);
  });

  it('names every bad entry by position and name, never printing a secret', () => {
    const { problems } = parseApiTokens(undefined, `ok:${SUBMITTER}:read,bad name:${READER},short:abc,c:${OPS_OLD}:delete,x:${OPS_NEW}:read:extra,dup:${SUBMITTER}`);
    expect(problems).toEqual([
      expect.stringMatching(/entry 2: the name must be/),
      expect.stringMatching(/entry 3 \(short\): the secret must be at least 16/),
      expect.stringMatching(/entry 4 \(c\): unknown scope "delete"/),
      expect.stringMatching(/entry 5: expected name:secret\[:scopes\]/),
      expect.stringMatching(/token "dup": the same secret is configured twice/),
    ]);
    for (const secret of [SUBMITTER, READER, OPS_OLD, OPS_NEW]) expect(problems.join('\n')).not.toContain(secret);
  });
});

describe('createAuthFailureLimiter', () => {
  it('refuses an address after maxFailures in its window, for the rest of the window only, and no other address', () => {
    let now = 1_000_000;
    const limiter = createAuthFailureLimiter({ maxFailures: 3, windowMs: 60_000, now: () => now });
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfterSeconds('10.0.0.1')).toBe(0);
      limiter.recordFailure('10.0.0.1');
    }
    expect(limiter.retryAfterSeconds('10.0.0.1')).toBe(60);
    expect(limiter.retryAfterSeconds('10.0.0.2')).toBe(0);
    now += 59_500;
    expect(limiter.retryAfterSeconds('10.0.0.1')).toBe(1);
    now += 500;
    expect(limiter.retryAfterSeconds('10.0.0.1')).toBe(0);
  });

  it('tracks a bounded number of addresses', () => {
    const limiter = createAuthFailureLimiter({ maxFailures: 1, maxAddresses: 2 });
    for (const a of ['a', 'b', 'c']) limiter.recordFailure(a);
    expect(limiter.retryAfterSeconds('a')).toBe(0);
    expect(limiter.retryAfterSeconds('c')).toBeGreaterThan(0);
  });
});

describe('producer API with named, scoped tokens', () => {
  let t: TestEnv;
  let runtime: IngestRuntime;
  let app: FastifyInstance;
  const logLines: string[] = [];
  const as = (secret: string, remoteAddress = '127.0.0.1') => ({ headers: { 'x-internal-token': secret }, remoteAddress });

  beforeAll(async () => {
    t = await createTestEnv();
    runtime = await t.runtime();
    const { tokens } = parseApiTokens(undefined, TOKENS);
    app = buildProducerApp({ runtime, tokens, authFailuresPerMinute: 5, logger: createProducerLogger('trace', { write: (line: string) => void logLines.push(line) }) });
    await app.ready();
  });
  afterEach(async () => {
    expect(await stopAllProcesses()).toEqual([]);
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it('each route asks for its scope: 403 FORBIDDEN naming the caller and the scope, 2xx with it', async () => {
    await t.writeSource('scoped.bin', 'scoped bytes');
    const body = { filePath: 'scoped.bin', metadata: { title: 'scoped' } };
    const denied = await app.inject({ method: 'POST', url: '/v1/documents', payload: body, ...as(READER) });
    expect(denied.statusCode).toBe(403);
    expect(denied.json()).toEqual({ error: { code: 'FORBIDDEN', message: 'token "dashboard" lacks the "submit" scope this route needs' } });
    const accepted = await app.inject({ method: 'POST', url: '/v1/documents', payload: body, ...as(SUBMITTER) });
    expect(accepted.statusCode).toBe(202);
    const { sagaId } = accepted.json() as { sagaId: string };
    // The audit records who submitted it: the caller's name.
    expect(((await runtime.engine.get(sagaId)).input as { requestedBy: string }).requestedBy).toBe('upstream');
    // A user named by the caller is recorded beside it, never instead of it.
    await t.writeSource('on-behalf.bin', 'on behalf bytes');
    const onBehalf = await app.inject({ method: 'POST', url: '/v1/documents', payload: { filePath: 'on-behalf.bin', metadata: { title: 'x' } }, headers: { 'x-internal-token': SUBMITTER, 'x-requested-by': 'alice' } });
    const behalfInput = (await runtime.engine.get((onBehalf.json() as { sagaId: string }).sagaId)).input as { requestedBy: string };
    expect(behalfInput.requestedBy).toBe('alice via upstream');

    expect((await app.inject({ method: 'GET', url: `/v1/sagas/${sagaId}`, ...as(READER) })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/v1/stats', ...as(READER) })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/metrics', ...as(READER) })).statusCode).toBe(200);
    const content = await app.inject({ method: 'GET', url: `/v1/documents/${UNKNOWN_UUID}/content`, ...as(OPS_NEW) });
    expect(content.statusCode).toBe(404);
    const noRead = await buildReadlessApp();
    expect((await noRead.inject({ method: 'GET', url: `/v1/documents/${UNKNOWN_UUID}/content`, ...as(SUBMITTER) })).json().error.code).toBe('FORBIDDEN');
    await noRead.close();

    const cancelByReader = await app.inject({ method: 'POST', url: `/v1/sagas/${sagaId}/cancel`, ...as(READER) });
    expect(cancelByReader.statusCode).toBe(403);
    expect((await app.inject({ method: 'POST', url: `/v1/sagas/${sagaId}/cancel`, ...as(SUBMITTER) })).statusCode).toBe(403);
    expect((await app.inject({ method: 'POST', url: `/v1/sagas/${sagaId}/cancel`, ...as(OPS_NEW) })).statusCode).toBe(202);
  });

  it('rotation: the old and the new secret of one name are both accepted, both logged as that name', async () => {
    for (const secret of [OPS_OLD, OPS_NEW]) expect((await app.inject({ method: 'GET', url: '/v1/stats', ...as(secret, '10.1.0.1') })).statusCode).toBe(200);
    const opsLines = logLines.filter((l) => l.includes('"caller":"ops"') && l.includes('"msg":"request completed"') && l.includes('"statusCode":200'));
    expect(opsLines.length).toBeGreaterThanOrEqual(2);
  });

  it('unknown tokens: 401, then 429 with Retry-After past the limit for that address only, counted in producer_auth_total', async () => {
    const attacker = '10.66.0.1';
    for (let i = 0; i < 5; i++) {
      expect((await app.inject({ method: 'GET', url: '/v1/stats', ...as(`guess-number-${i}-0123456789`, attacker) })).statusCode).toBe(401);
    }
    const limited = await app.inject({ method: 'GET', url: '/v1/stats', ...as(`guess-number-5-0123456789`, attacker) });
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Even the right token waits out the window from there: a guess that hits cannot be told from one that misses.
    expect((await app.inject({ method: 'GET', url: '/v1/stats', ...as(READER, attacker) })).statusCode).toBe(429);
    expect((await app.inject({ method: 'GET', url: '/v1/stats', ...as(READER, '10.66.0.2') })).statusCode).toBe(200);

    const metrics = (await app.inject({ method: 'GET', url: '/metrics', ...as(READER) })).body;
    expect(metrics).toMatch(/producer_auth_total\{caller="unknown",outcome="unauthorized"\} 5/);
    expect(metrics).toMatch(/producer_auth_total\{caller="unknown",outcome="rate_limited"\} 2/);
    expect(metrics).toMatch(/producer_auth_total\{caller="dashboard",outcome="accepted"\} \d+/);
    expect(metrics).toMatch(/producer_auth_total\{caller="dashboard",outcome="forbidden"\} \d+/);
  });

  it('no log line carries a secret', () => {
    expect(logLines.length).toBeGreaterThan(10);
    for (const secret of [SUBMITTER, READER, OPS_OLD, OPS_NEW]) expect(logLines.filter((l) => l.includes(secret))).toEqual([]);
  });

  it('as a process: INTERNAL_TOKENS and INTERNAL_TOKEN together, scopes enforced, secrets out of its output', async () => {
    const env = { ...t.env, PORT: '0', LOG_LEVEL: 'trace', INTERNAL_TOKENS: TOKENS };
    const proc = await spawnProcess(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'apps/producer/src/main.ts')], { cwd: REPO_ROOT, env, name: 'producer-tokens' });
    const { address } = JSON.parse((await proc.waitForOutput(/"msg":"producer listening"/, 60_000)).line) as { address: string };
    const get = (secret: string) => fetch(`${address}/v1/stats`, { headers: { 'x-internal-token': secret } }).then((r) => r.status);
    expect(await get(t.token)).toBe(200);
    expect(await get(OPS_OLD)).toBe(200);
    expect(await get(READER)).toBe(200);
    expect(await get('not-a-configured-token-at-all')).toBe(401);
    const post = await fetch(`${address}/v1/documents`, { method: 'POST', headers: { 'x-internal-token': READER, 'content-type': 'application/json' }, body: '{}' });
    expect(post.status).toBe(403);
    proc.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
    const output = proc.output().join('\n');
    expect(output).toMatch(/"callers":\[\{"name":"internal"/);
    for (const secret of [t.token, SUBMITTER, READER, OPS_OLD, OPS_NEW]) expect(output).not.toContain(secret);

    const bad = await spawnProcess(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'apps/producer/src/main.ts')], {
      cwd: REPO_ROOT,
      env: { ...t.env, INTERNAL_TOKEN: undefined, INTERNAL_TOKENS: `ops:${OPS_OLD}:everything` },
      name: 'producer-bad-tokens',
    });
    expect((await bad.exited).code).toBe(1);
    expect(bad.output().join('\n')).toMatch(/INTERNAL_TOKENS entry 1 \(ops\): unknown scope "everything"/);
    expect(bad.output().join('\n')).not.toContain(OPS_OLD);
  });

  /** An app where the upstream token has submit only: the content route must refuse it. */
  async function buildReadlessApp(): Promise<FastifyInstance> {
    const { tokens } = parseApiTokens(undefined, `upstream:${SUBMITTER}:submit`);
    const other = buildProducerApp({ runtime, tokens, logger: createProducerLogger('silent') });
    await other.ready();
    return other;
  }
});
