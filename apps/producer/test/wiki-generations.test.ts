// POST /v1/wiki-generations through the producer against the two wiki services as processes: a generation that
// completes, one per project (409), malformed requests refused with no saga, and a worker SIGKILLed in the middle
// of save_files with 200 files, after which every file was written exactly once (counted by the service).
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { IngestionStatus, IngestRuntime } from '@ingest/ingest';
import { randomId, spawnProcess, startTcpProxy, stopAllProcesses, waitFor, type TcpProxy } from '@ingest/testkit';
import { startWikiServices, type WikiServices } from '@ingest/wiki/testing';
import { buildProducerApp } from '../src/app.ts';
import { createProducerLogger } from '../src/logger.ts';
import { createTestEnv, REPO_ROOT, type TestEnv } from './support.ts';

const WIKI_TOKEN = `wiki-route-token-${randomId()}`;

describe('wiki generations through the producer', () => {
  let services: WikiServices;
  let proxy: TcpProxy;
  let t: TestEnv;
  let runtime: IngestRuntime;
  let app: FastifyInstance;
  let baseUrl: string;

  beforeAll(async () => {
    services = await startWikiServices({ token: WIKI_TOKEN });
    // The worker reaches the filesystem service through a proxy whose latency the crash test raises.
    proxy = await startTcpProxy({ targetHost: '127.0.0.1', targetPort: services.filesystem.port });
    t = await createTestEnv({
      FILESYSTEM_SERVICE_URL: proxy.urlFor(services.filesystem.url),
      GIT_SERVICE_URL: services.git.url,
      WIKI_SERVICE_TOKEN: WIKI_TOKEN,
      STORE_RETRY_BACKOFF_MS: '200',
      STEP_LEASE_MS: '2000',
    });
    runtime = await t.runtime();
    app = buildProducerApp({ runtime, internalToken: t.token, logger: createProducerLogger('silent') });
    baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  });

  afterAll(async () => {
    await app?.close();
    await t?.close();
    await proxy?.close();
    await services?.stop();
    await stopAllProcesses();
  });

  const api = (p: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${baseUrl}${p}`, { ...init, headers: { 'x-internal-token': t.token, 'content-type': 'application/json', ...init.headers } });
  const generate = (body: unknown) => api('/v1/wiki-generations', { method: 'POST', body: JSON.stringify(body) });
  const waitForEnd = (sagaId: string, timeoutMs = 60_000) =>
    waitFor(async () => {
      const s = (await (await api(`/v1/sagas/${sagaId}`)).json()) as IngestionStatus;
      return s.status === 'running' || s.status === 'compensating' ? undefined : s;
    }, { timeoutMs, what: `saga ${sagaId} to end` });
  const sagaCount = async () => {
    const s = await runtime.stats();
    return s.active + s.completed + s.compensated + s.compensationFailed + s.failed;
  };
  const startWorker = () =>
    spawnProcess(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'apps/worker/src/main.ts')], {
      cwd: REPO_ROOT,
      env: { ...t.env, METRICS_PORT: '0', LOG_LEVEL: 'info', WORKER_CONCURRENCY: '2' },
      name: 'worker',
    });

  it('malformed requests get a clear 4xx and start no saga', async () => {
    const before = await sagaCount();
    const missing = await generate({ userId: 'u', files: [{ path: 'a.md', content: 'x' }] });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: { fields: { field: string }[] } }).error.fields.map((f) => f.field)).toContain('projectId');
    for (const bad of ['../escape.md', '/etc/passwd', 'a/../../b.md', '.git/config']) {
      const r = await generate({ projectId: 'p1', userId: 'u', files: [{ path: bad, content: 'x' }] });
      expect(r.status, bad).toBe(422);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('UNSAFE_PATH');
    }
    const outside = await generate({ projectId: 'p1', userId: 'u', filesDir: '../..' });
    expect(outside.status).toBe(422);
    const many = await generate({ projectId: 'p1', userId: 'u', files: Array.from({ length: 10_000 }, (_, i) => ({ path: `f${i}.md`, content: '' })) });
    expect(many.status).toBe(413);
    expect(((await many.json()) as { error: { code: string } }).error.code).toBe('TOO_MANY_FILES');
    const huge = await generate({ projectId: 'p1', userId: 'u', files: [{ path: 'big.md', content: 'x'.repeat(50 * 1024 * 1024) }] });
    expect(huge.status).toBe(413);
    expect(await sagaCount()).toBe(before);
  });

  it('a generation from a files directory completes and a second one for a live project is refused with 409', async () => {
    const dir = path.join(t.sourceRoot, 'wiki-out');
    await mkdir(path.join(dir, 'guide'), { recursive: true });
    await writeFile(path.join(dir, 'index.md'), '# Home');
    await writeFile(path.join(dir, 'guide', 'setup.md'), 'Setup');
    const first = await generate({ projectId: 'docs', userId: 'u1', filesDir: 'wiki-out' });
    expect(first.status).toBe(202);
    const { sagaId, statusUrl } = (await first.json()) as { sagaId: string; statusUrl: string };
    expect(statusUrl).toBe(`/v1/sagas/${sagaId}`);
    // No worker runs yet, so the first is live for certain.
    const second = await generate({ projectId: 'docs', userId: 'u2', files: [{ path: 'x.md', content: 'x' }] });
    expect(second.status).toBe(409);
    expect(((await second.json()) as { error: { holderSagaId: string } }).error.holderSagaId).toBe(sagaId);
    const worker = await startWorker();
    try {
      const status = await waitForEnd(sagaId);
      expect(status.status).toBe('completed');
      expect(status.result).toMatchObject({ status: 'success', files_created: 2 });
      // The CLI's `wiki --wait` on the same directory for another project prints seeds/003's result and exits 0.
      const cli = await spawnProcess(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'apps/producer/src/cli.ts'), 'wiki', 'docs-cli', 'wiki-out', '--user', 'u3', '--wait'], {
        cwd: REPO_ROOT,
        env: { ...t.env, PRODUCER_URL: baseUrl },
        name: 'cli wiki',
      });
      expect((await cli.exited).code, cli.output().join('\n')).toBe(0);
      expect(cli.output().join('\n')).toMatch(/"snapshot_id": "snap-/);
    } finally {
      worker.kill('SIGTERM');
      await worker.exited;
    }
  });

  it('a worker SIGKILLed in the middle of save_files: each of 200 files is saved exactly once', async () => {
    const files = Array.from({ length: 200 }, (_, i) => ({ path: `pages/p${String(i).padStart(3, '0')}.md`, content: `page ${i}` }));
    const res = await generate({ projectId: 'crash', userId: 'u', files });
    expect(res.status).toBe(202);
    const { sagaId } = (await res.json()) as { sagaId: string };
    proxy.setLatency(25);
    const stats = async () => (await (await fetch(`${services.filesystem.url}/_stats/saves`, { headers: { 'x-internal-token': WIKI_TOKEN } })).json()) as { keys: number; writes: number; maxPerKey: number };
    const before = await stats();
    const first = await startWorker();
    // The premise: the kill lands after some files and before the last.
    await waitFor(async () => ((await stats()).keys - before.keys >= 40 ? true : undefined), { timeoutMs: 60_000, intervalMs: 20, what: '40 saves' });
    first.kill('SIGKILL');
    await first.exited;
    const atKill = (await stats()).keys - before.keys;
    expect(atKill).toBeLessThan(200);
    proxy.setLatency(0);
    const second = await startWorker();
    try {
      const status = await waitForEnd(sagaId, 90_000);
      expect(status.status).toBe('completed');
      expect(status.result).toMatchObject({ files_created: 200 });
    } finally {
      second.kill('SIGTERM');
      await second.exited;
    }
    const after = await stats();
    expect(after.keys - before.keys).toBe(200);
    expect(after.writes - before.writes).toBe(200);
    expect(after.maxPerKey).toBe(1);
  });
});
