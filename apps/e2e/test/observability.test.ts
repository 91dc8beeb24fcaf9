// Observability end to end: the alert rules pass `promtool check rules` and their unit tests; the producer's and a
// worker's /metrics expositions carry what the rules and the Grafana dashboard query (queue depths, stuck sagas,
// leftovers, the janitor's last pass, upload bytes, step durations, endings) with the values of a real run, and pass
// `promtool check metrics`. promtool comes from Debian's `prometheus` package, installed here when missing.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestRuntime, IngestionStatus } from '@ingest/ingest';
import { createTestEnv, type TestEnv } from '@ingest/ingest/testing';
import { buildProducerApp } from '@ingest/producer';
import { ensureDebianTool, waitFor } from '@ingest/testkit';
import { createWorkerMetrics } from '@ingest/worker';
import { metricFamilies, sampleValue } from './prometheus-text.ts';
import { REPO_ROOT } from './world.ts';

const OBS = path.join(REPO_ROOT, 'infra/observability');
const MiB = 1024 * 1024;
const run = promisify(execFile);

/** Runs `promtool check metrics` on an exposition; resolves with its exit code and output. */
function checkMetrics(promtool: string, exposition: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(promtool, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(exposition);
  });
}

describe('observability: rules, dashboard and the metrics they need', () => {
  let promtool: string;
  let t: TestEnv;
  let runtime: IngestRuntime;
  let app: FastifyInstance;
  let sql: Sql;

  beforeAll(async () => {
    promtool = await ensureDebianTool('promtool', 'prometheus');
    // A saga idle for a second with its job unconsumed counts as stuck.
    t = await createTestEnv({ STUCK_AFTER_SECONDS: '1' });
    runtime = await t.runtime();
    app = buildProducerApp({ runtime, internalToken: t.token, logger: pino({ level: 'silent' }) });
    await app.ready();
    sql = postgres(t.env.DATABASE_URL!, { max: 2, onnotice: () => {} });
  });

  afterAll(async () => {
    await app?.close();
    await sql?.end({ timeout: 5 });
    await t?.close();
  });

  const scrape = async (): Promise<string> => {
    const res = await app.inject({ method: 'GET', url: '/metrics', headers: { 'x-internal-token': t.token } });
    expect(res.statusCode).toBe(200);
    return res.body;
  };

  it('alert rules pass promtool check rules and their unit tests; the scrape config is valid', async () => {
    const check = await run(promtool, ['check', 'rules', 'alerts.yml'], { cwd: OBS });
    expect(check.stdout).toContain('SUCCESS: 6 rules found');
    const tests = await run(promtool, ['test', 'rules', 'alerts.test.yml'], { cwd: OBS });
    expect(tests.stdout).toContain('SUCCESS');
    await run(promtool, ['check', 'config', 'prometheus.yml'], { cwd: OBS });
  });

  it('exports queue depths, stuck sagas, leftovers, the janitor pass and upload bytes with the values of a real run', async () => {
    const workerRegistry = createWorkerMetrics(runtime.engine, runtime);
    const size = 6 * MiB;
    const filePath = await t.writeSource('observed.bin', randomBytes(size));
    const submitted = await app.inject({ method: 'POST', url: '/v1/documents', headers: { 'x-internal-token': t.token }, payload: { filePath, metadata: { title: 'observed' } } });
    expect(submitted.statusCode).toBe(202);
    const { sagaId } = submitted.json<{ sagaId: string }>();
    const firstQueue = runtime.engine.queueNames().find((q) => q.includes('.validate_file.'))!;

    // No worker consumes yet: the first job waits in its queue and the saga, idle, is stuck.
    const before = await waitFor(
      async () => {
        const text = await scrape();
        return sampleValue(text, 'ingest_queue_jobs', { queue: firstQueue, state: 'waiting' }) === 1 && sampleValue(text, 'ingest_stuck_sagas') === 1 ? text : undefined;
      },
      { timeoutMs: 60_000, what: 'a waiting job and a stuck saga on /metrics' },
    );
    expect(sampleValue(before, 'ingest_janitor_last_pass_timestamp_seconds')).toBe(0);
    expect(sampleValue(before, 'ingest_open_leftovers')).toBe(0);

    const passStarted = Date.now() / 1000;
    await runtime.janitorPass();
    const afterPass = sampleValue(await scrape(), 'ingest_janitor_last_pass_timestamp_seconds');
    expect(afterPass).toBeGreaterThanOrEqual(Math.floor(passStarted) - 1);

    await runtime.startWorkers({ concurrency: 2 });
    const done = await waitFor(
      async () => {
        const s = (await app.inject({ method: 'GET', url: `/v1/sagas/${sagaId}`, headers: { 'x-internal-token': t.token } })).json<IngestionStatus>();
        return s.status === 'running' ? undefined : s;
      },
      { timeoutMs: 120_000, what: 'the saga to end' },
    );
    expect(done.status).toBe('completed');
    // The final progress reports the upload's average speed, not 0.
    expect(done.progress.bytesPerSecond).toBeGreaterThan(0);

    const worker = await workerRegistry.metrics();
    expect(sampleValue(worker, 'ingest_upload_bytes_total')).toBe(size);
    expect(sampleValue(worker, 'saga_endings_total', { status: 'completed' })).toBe(1);
    expect(sampleValue(worker, 'saga_step_duration_seconds_count', { step: 'chunked_upload', phase: 'action', outcome: 'ok' })).toBe(1);

    // A leftover recorded two hours ago (the engine writes these when a compensation fails for good).
    await sql`insert into failed_cleanups (saga_id, step, store, key, error, created_at)
      values (${sagaId}, 'chunked_upload', 's3-chunk', 'chunks/x/0', 'S3 unreachable', now() - interval '2 hours')`;
    const after = await scrape();
    expect(sampleValue(after, 'ingest_queue_jobs', { queue: firstQueue, state: 'waiting' })).toBe(0);
    expect(sampleValue(after, 'ingest_stuck_sagas')).toBe(0);
    expect(sampleValue(after, 'ingest_open_leftovers')).toBe(1);
    expect(sampleValue(after, 'ingest_oldest_open_leftover_age_seconds')).toBeGreaterThanOrEqual(7200);
    expect(sampleValue(after, 'ingest_sagas', { status: 'completed' })).toBe(1);

    // Both expositions pass promtool's lint (prom-client's `_total` gauges are renamed).
    for (const text of [after, worker]) expect(await checkMetrics(promtool, text)).toEqual({ code: 0, output: '' });

    // Every metric the rules and the dashboard query is exported by the producer or a worker.
    const exported = new Set([...metricFamilies(after), ...metricFamilies(worker)]);
    const queried = new Set<string>();
    const dashboard = JSON.parse(await readFile(path.join(OBS, 'grafana-dashboard.json'), 'utf8')) as { panels: { targets: { expr: string }[] }[] };
    const rules = await readFile(path.join(OBS, 'alerts.yml'), 'utf8');
    const texts = [...dashboard.panels.flatMap((p) => p.targets.map((x) => x.expr)), rules];
    for (const text of texts) for (const m of text.matchAll(/\b((?:ingest|saga|process)_[a-z_]+)\b/g)) queried.add(m[1]!.replace(/_(bucket|count|sum)$/, ''));
    expect(queried.size).toBeGreaterThanOrEqual(9);
    expect([...queried].filter((name) => !exported.has(name))).toEqual([]);
  });
});
