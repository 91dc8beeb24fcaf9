// The operator console in a real browser (Debian's chromium, driven by playwright-core): log in; watch a 300 MiB
// upload's progress bar advance while its PUTs are held at the S3 fault proxy and released step by step; open its
// page, cancel it and see it compensated; find a stuck saga through the filter; retry a leftover once its store is
// back. Every wait is on a condition (timeouts are upper bounds only). Screenshots go to docs/.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import postgres, { type Sql } from 'postgres';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestRuntime } from '@ingest/ingest';
import { createTestEnv, type TestEnv } from '@ingest/ingest/testing';
import { createQueueDepthReader } from '@ingest/ops';
import { buildProducerApp } from '@ingest/producer';
import { S3_SLOW_DOWN, ensureDebianTool, requireEnv, startS3FaultProxy, waitFor, type S3FaultProxy } from '@ingest/testkit';
import { REPO_ROOT } from './world.ts';

const MiB = 1024 * 1024;
const UPLOAD_BYTES = 300 * MiB;
const CHUNK_BYTES = 5 * MiB;
const CHUNKS = UPLOAD_BYTES / CHUNK_BYTES;
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
// Upper bounds only: every wait ends as soon as its condition holds.
const UI_WAIT_MS = 90_000;

/** Writes `bytes` of non-repeating data in 1 MiB pieces, never holding the file in memory. */
async function writeLargeSource(file: string, bytes: number): Promise<void> {
  let left = bytes;
  const source = new Readable({
    read() {
      if (left <= 0) return this.push(null);
      const n = Math.min(MiB, left);
      left -= n;
      this.push(randomBytes(n));
    },
  });
  await pipeline(source, createWriteStream(file));
}

/** Takes a full-page screenshot; the README's pictures in docs/ are rewritten only with UPDATE_SCREENSHOTS=1, so a test run leaves the checkout as it found it. */
async function screenshot(page: Page, name: string): Promise<void> {
  const update = process.env.UPDATE_SCREENSHOTS === '1';
  const file = update ? path.join(REPO_ROOT, 'docs', name) : path.join(tmpdir(), `${process.pid}-${name}`);
  await page.screenshot({ path: file, fullPage: true });
  if (!update) await rm(file, { force: true });
}

describe('operator console in a browser', () => {
  let t: TestEnv;
  let proxy: S3FaultProxy;
  let runtime: IngestRuntime;
  let app: FastifyInstance;
  let sql: Sql;
  let context: BrowserContext;
  let page: Page;
  let base: string;
  let profile: string;
  let uploadSagaId: string;
  let stuckId: string;

  const submit = async (filePath: string, title: string): Promise<string> => {
    const res = await app.inject({ method: 'POST', url: '/v1/documents', headers: { 'x-internal-token': t.token }, payload: { filePath, metadata: { title } } });
    expect(res.statusCode, res.body).toBe(202);
    return res.json<{ sagaId: string }>().sagaId;
  };
  const percentOf = async (sagaId: string): Promise<number> => {
    const v = await page.locator(`tr[data-saga-id="${sagaId}"] .progress`).first().getAttribute('data-percent', { timeout: 1000 }).catch(() => null);
    return v === null ? -1 : Number(v);
  };

  beforeAll(async () => {
    const executablePath = await ensureDebianTool('chromium', 'chromium');
    proxy = await startS3FaultProxy({ target: requireEnv('S3_ENDPOINT') });
    t = await createTestEnv({
      S3_ENDPOINT: proxy.endpoint,
      STUCK_AFTER_SECONDS: '1',
      UPLOAD_CONCURRENCY: '1',
      CHUNK_SIZE_BYTES: String(CHUNK_BYTES),
      // Held PUTs must outlast the steps of the test; they are released by the test, never timed out.
      S3_CALL_TIMEOUT_MS: '600000',
      COMPENSATION_RETRY_ATTEMPTS: '2',
      STORE_RETRY_BACKOFF_MS: '100',
    });
    runtime = await t.runtime();
    app = buildProducerApp({ runtime, internalToken: t.token, logger: pino({ level: 'silent' }) });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    sql = postgres(t.env.DATABASE_URL!, { max: 2, onnotice: () => {} });
    // Every queue but graph_insert's: a saga that reaches that step waits there with no consumer (stuck).
    await runtime.startWorkers({ concurrency: 2, queues: runtime.engine.queueNames().filter((q) => !q.includes('.graph_insert.do')) });
    profile = await mkdtemp(path.join(tmpdir(), 'console-chromium-'));
    context = await chromium.launchPersistentContext(profile, { executablePath, headless: true, args: FLAGS });
    page = context.pages()[0] ?? (await context.newPage());
  }, 900_000);

  afterAll(async () => {
    await context?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
    await app?.close();
    await sql?.end({ timeout: 5 });
    await t?.close();
    await proxy?.close();
  });

  it('logs in with the token, kept in sessionStorage and sent only in a header; strict headers', async () => {
    const response = await page.goto(`${base}/ui`);
    const headers = response!.headers();
    expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(headers['content-security-policy']).toContain("script-src 'self'");
    expect(headers['content-security-policy']).not.toContain('unsafe-inline');
    const apiCalls: { url: string; token: string | undefined }[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/v1/')) apiCalls.push({ url: r.url(), token: r.headers()['x-internal-token'] });
    });
    await page.fill('#token', 'not-the-token-at-all');
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#login .error:has-text("not accepted")', { timeout: UI_WAIT_MS });
    await page.fill('#token', t.token);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('[data-card="successRate"]', { timeout: UI_WAIT_MS });
    expect(await page.evaluate(() => sessionStorage.getItem('ingest-console-token'))).toBe(t.token);
    expect(apiCalls.length).toBeGreaterThan(0);
    expect(apiCalls.every((c) => !c.url.includes(t.token))).toBe(true);
    expect(apiCalls.at(-1)?.token).toBe(t.token);
  });

  it('shows a running upload whose progress bar advances as its held PUTs are released', async () => {
    await writeLargeSource(path.join(t.sourceRoot, 'big.bin'), UPLOAD_BYTES);
    // Chunks 0-1 go through, chunk 2 is held; then chunks 2-4, chunk 5 held.
    const first = proxy.failWhen({ kind: 'put', key: /\/00000002$/, action: { type: 'stall' } });
    const second = proxy.failWhen({ kind: 'put', key: /\/00000005$/, action: { type: 'stall' } });
    uploadSagaId = await submit('big.bin', 'big upload');
    await page.goto(`${base}/ui#/sagas?status=running`);
    // Progress is persisted at most once a second (the engine's throttle), so the bar shows chunk 1 or 2 of 60 while
    // chunk 2 is held: some percent in (0, 2/60].
    const heldSince = await waitFor(() => (first.matches() === 1 ? Date.now() : undefined), { timeoutMs: UI_WAIT_MS, what: 'chunk 2 held' });
    const p1 = await waitFor(async () => {
      const p = await percentOf(uploadSagaId);
      return p > 0 ? p : undefined;
    }, { timeoutMs: UI_WAIT_MS, what: 'a progress bar for the upload' });
    expect(p1).toBeLessThanOrEqual((2 / CHUNKS) * 100 + 0.01);
    // One throttle interval after the hold began, the next report (chunk 2 stored) is sure to be persisted.
    await waitFor(() => Date.now() - heldSince > 1100, { timeoutMs: 5000, what: 'one progress interval' });
    first.remove();
    const p2 = await waitFor(async () => {
      const p = await percentOf(uploadSagaId);
      return p >= (3 / CHUNKS) * 100 - 0.01 ? p : undefined;
    }, { timeoutMs: UI_WAIT_MS, what: 'the bar past the released chunk' });
    expect(p2).toBeGreaterThan(p1);
    expect(await page.locator(`tr[data-saga-id="${uploadSagaId}"] [data-status]`).getAttribute('data-status')).toBe('running');
    await page.goto(`${base}/ui#/`);
    await page.waitForSelector('[data-card="active"] .value:has-text("1")', { timeout: UI_WAIT_MS });
    await screenshot(page, 'console-overview.png');
    // The second hold stays until the saga is cancelled (next test).
    expect(second.matches()).toBe(1);
  });

  it('opens the saga page, cancels the upload, and sees it compensated', async () => {
    await page.goto(`${base}/ui#/sagas?status=running`);
    await page.click(`tr[data-saga-id="${uploadSagaId}"] a`);
    await page.waitForSelector('#cancel', { timeout: UI_WAIT_MS });
    await page.click('#cancel');
    await page.waitForSelector('#status:has-text("Cancel accepted")', { timeout: UI_WAIT_MS });
    // Release the held PUT: the upload stops at its next chunk boundary and the saga rolls back.
    proxy.clearRules();
    await page.waitForSelector('h1 + p [data-status="compensated"]', { timeout: UI_WAIT_MS });
    expect(await page.locator('#events').textContent()).toContain('CANCELLED');
    await screenshot(page, 'console-saga.png');
  });

  it('finds a stuck saga through the filter', async () => {
    const filePath = await t.writeSource('small.txt', 'a small document\n');
    stuckId = await submit(filePath, 'stuck at graph_insert');
    await page.goto(`${base}/ui#/sagas`);
    await page.check('input[name=stuck]');
    await page.click('form.filters button[type=submit]');
    await waitFor(async () => {
      await page.waitForSelector('#saga-table', { timeout: 5000 });
      return (await page.locator(`tr[data-saga-id="${stuckId}"]`).count()) === 1;
    }, { timeoutMs: UI_WAIT_MS, what: 'the stuck saga in the filtered list' });
    expect(page.url()).toContain('stuck=true');
    expect(await page.locator(`tr[data-saga-id="${uploadSagaId}"]`).count()).toBe(0);
    expect(await page.locator(`tr[data-saga-id="${stuckId}"] td`).nth(3).textContent()).toContain('graph_insert');
  });

  it('retries a leftover: still there while its store is down, removed once it is back', async () => {
    const [leftover] = await sql<{ id: number }[]>`insert into failed_cleanups (saga_id, step, store, key, details, error, next_attempt_at)
      values (${uploadSagaId}, 'chunked_upload', 's3-prefix', ${`chunks/${uploadSagaId}/`}, ${sql.json({ operationId: uploadSagaId })}, 'S3 unreachable', now() + interval '1 hour')
      returning id::int as id`;
    const down = proxy.failWhen({ action: S3_SLOW_DOWN });
    await page.goto(`${base}/ui#/cleanups?state=open`);
    const row = page.locator(`tr[data-cleanup-id="${leftover!.id}"]`);
    await row.waitFor({ timeout: UI_WAIT_MS });
    await row.locator('button.retry').click();
    await page.waitForSelector(`#status:has-text("Leftover ${leftover!.id} still there")`, { timeout: UI_WAIT_MS });
    down.remove();
    await page.locator(`tr[data-cleanup-id="${leftover!.id}"] button.retry`).click();
    await page.waitForSelector(`#status:has-text("Leftover ${leftover!.id} removed")`, { timeout: UI_WAIT_MS });
    await page.goto(`${base}/ui#/cleanups?state=resolved`);
    await page.locator(`tr[data-cleanup-id="${leftover!.id}"]`).waitFor({ timeout: UI_WAIT_MS });
  });

  it('downloads a committed document from its page', async () => {
    // A worker for graph_insert's queue lets the stuck saga finish.
    await runtime.startWorkers({ concurrency: 1, queues: runtime.engine.queueNames().filter((q) => q.includes('.graph_insert.do')) });
    await page.goto(`${base}/ui#/saga/${stuckId}`);
    await page.waitForSelector('h1 + p [data-status="completed"]', { timeout: UI_WAIT_MS });
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: UI_WAIT_MS }), page.click('#download')]);
    const saved = path.join(profile, 'downloaded.bin');
    await download.saveAs(saved);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(sha(await readFile(saved))).toBe(sha(await readFile(path.join(t.sourceRoot, 'small.txt'))));
  });

  it('requeues and discards a dead letter', async () => {
    const queue = runtime.engine.queueNames().find((q) => q.includes('.validate_file.do'))!;
    const reader = createQueueDepthReader({ redisUrl: t.env.REDIS_URL!, prefix: t.env.QUEUE_PREFIX!, queues: [queue] });
    try {
      await reader.enqueue(queue, { not: 'a saga job' }, 'malformed-browser');
    } finally {
      await reader.close();
    }
    await page.goto(`${base}/ui#/dead-letters`);
    const first = page.locator('tr[data-dead-letter-id]');
    await first.first().waitFor({ timeout: UI_WAIT_MS });
    const firstId = await first.first().getAttribute('data-dead-letter-id');
    await first.first().locator('button.requeue').click();
    await page.waitForSelector(`#status:has-text("Dead letter ${firstId}: requeued")`, { timeout: UI_WAIT_MS });
    // Malformed still: a worker sets it aside again, under a new id.
    const again = await waitFor(async () => {
      const id = await page.locator('tr[data-dead-letter-id]').first().getAttribute('data-dead-letter-id', { timeout: 1000 }).catch(() => null);
      return id !== null && id !== firstId ? id : undefined;
    }, { timeoutMs: UI_WAIT_MS, what: 'the requeued job set aside again' });
    await page.locator(`tr[data-dead-letter-id="${again}"] button.discard`).click();
    await page.waitForSelector(`#status:has-text("Dead letter ${again}: discarded")`, { timeout: UI_WAIT_MS });
    await page.waitForSelector('main p.muted:has-text("No dead letter.")', { timeout: UI_WAIT_MS });
  });
});
