// The worker as a real process: it announces readiness, completes sagas, exposes /healthz and /metrics from the
// engine's events, drains on SIGTERM (exit 0, the saga resumable by another worker), and a second signal forces exit 1.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IngestionStatus, IngestRuntime } from '@ingest/ingest';
import { spawnProcess, startS3FaultProxy, stopAllProcesses, waitFor, type TestProcess } from '@ingest/testkit';
import { createTestEnv, REPO_ROOT, type TestEnv } from './support.ts';

const MAIN = path.join(REPO_ROOT, 'apps/worker/src/main.ts');

describe('worker process', () => {
  let t: TestEnv;
  let runtime: IngestRuntime;

  beforeAll(async () => {
    // One chunk in flight at a time keeps the 40 MiB uploads long enough to signal the worker in the middle.
    t = await createTestEnv({ METRICS_PORT: '0', WORKER_CONCURRENCY: '2', UPLOAD_CONCURRENCY: '1' });
    runtime = await t.runtime();
  });

  afterEach(async () => {
    expect(await stopAllProcesses()).toEqual([]);
  });

  afterAll(async () => {
    await t?.close();
  });

  async function startWorker(name: string, extra: Record<string, string> = {}): Promise<{ proc: TestProcess; metricsUrl: string }> {
    const proc = await spawnProcess(process.execPath, ['--import', 'tsx', MAIN], { cwd: REPO_ROOT, env: { ...t.env, ...extra }, name });
    const ready = await proc.waitForOutput(/"msg":"worker ready"/, 60_000);
    const line = JSON.parse(ready.line) as { queues: number; metricsAddress: string };
    expect(line.queues).toBeGreaterThan(0);
    return { proc, metricsUrl: line.metricsAddress };
  }

  const waitForEnd = (sagaId: string, timeoutMs = 90_000): Promise<IngestionStatus> =>
    waitFor(
      async () => {
        const s = await runtime.status(sagaId);
        return s.status === 'running' || s.status === 'compensating' ? undefined : s;
      },
      { timeoutMs, intervalMs: 200, what: `saga ${sagaId} to end` },
    );

  it('completes a saga and reports step durations and saga endings on /metrics; /healthz is 200; SIGTERM exits 0', async () => {
    const { proc, metricsUrl } = await startWorker('worker-a');
    const filePath = await t.writeSource('a.bin', randomBytes(300_000));
    const { sagaId } = await runtime.submit({ filePath, metadata: { title: 'A' } }, { requestedBy: 'test' });
    expect((await waitForEnd(sagaId)).status).toBe('completed');

    const health = await fetch(`${metricsUrl}/healthz`);
    expect(health.status).toBe(200);
    const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/saga_endings_total\{saga="[^"]+",status="completed"\} 1/);
    expect(metrics).toMatch(/saga_step_duration_seconds_count\{saga="[^"]+",step="[^"]+",phase="action",outcome="ok"\} [1-9]/);
    expect(metrics).toContain('process_resident_memory_bytes');

    proc.kill('SIGTERM');
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    expect(proc.output().join('\n')).toMatch(/"msg":"worker stopped"/);
  });

  it('SIGTERM during an upload drains: exit 0, the saga stays alive and another worker completes it', async () => {
    const bytes = randomBytes(40 * 1024 * 1024);
    const filePath = await t.writeSource('big.bin', bytes);
    // Chunk 1's PUT is held at a proxy until the signal is sent: the upload is in its middle whatever the speed.
    const proxy = await startS3FaultProxy({ target: t.env.S3_ENDPOINT! });
    const hold = proxy.failWhen({ kind: 'put', key: /\/00000001$/, times: 1, action: { type: 'stall' } });
    const { proc } = await startWorker('worker-b', { S3_ENDPOINT: proxy.endpoint });
    const { sagaId } = await runtime.submit({ filePath, metadata: { title: 'Big' } }, { requestedBy: 'test' });
    await waitFor(() => hold.matches() === 1, { timeoutMs: 60_000, intervalMs: 50, what: "chunk 1's PUT to be on its way" });

    proc.kill('SIGTERM');
    await proc.waitForOutput(/"msg":"worker draining"/, 30_000);
    // A draining upload waits for its PUTs in flight, then stops at the next chunk boundary.
    hold.remove();
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    await proxy.close();
    const between = await runtime.status(sagaId);
    expect(between.status).toBe('running');
    expect(between.progress.bytesDone).toBeLessThan(bytes.length);

    const next = await startWorker('worker-c');
    const final = await waitForEnd(sagaId);
    expect(final).toMatchObject({ status: 'completed', progress: { bytesDone: bytes.length } });
    next.proc.kill('SIGTERM');
    expect(await next.proc.exited).toEqual({ code: 0, signal: null });
  });

  it('a second signal while draining forces exit 1', async () => {
    const filePath = await t.writeSource('forced.bin', randomBytes(40 * 1024 * 1024));
    const { proc } = await startWorker('worker-d');
    const { sagaId } = await runtime.submit({ filePath, metadata: { title: 'Forced' } }, { requestedBy: 'test' });
    await waitFor(async () => (await runtime.status(sagaId)).progress.bytesDone > 0, { timeoutMs: 60_000, intervalMs: 50, what: 'the upload to start' });
    proc.kill('SIGTERM');
    await proc.waitForOutput(/"msg":"worker draining"/);
    proc.kill('SIGTERM');
    expect(await proc.exited).toEqual({ code: 1, signal: null });
    // A forced exit is a crash as far as the saga knows: still running, for the engine's recovery to resume
    // (saga-core's crash tests cover that part).
    expect((await runtime.status(sagaId)).status).toBe('running');
  });

  it('refuses to start with an invalid configuration, naming the variable', async () => {
    const proc = await spawnProcess(process.execPath, ['--import', 'tsx', MAIN], { cwd: REPO_ROOT, env: { ...t.env, WORKER_CONCURRENCY: '0' }, name: 'worker-bad' });
    expect((await proc.exited).code).toBe(1);
    expect(proc.output().join('\n')).toMatch(/worker: invalid configuration: WORKER_CONCURRENCY/);
  });
});
