// Readiness that means something, with real worker processes: a worker whose SOURCE_ROOT is missing, or whose S3,
// PostgreSQL or Redis is unreachable (refused by a TCP proxy), reports not ready on /readyz and in /metrics and takes no
// job; once the directory appears (the volume mounts) or the service answers again, the same process becomes ready and
// completes the waiting saga. The premise is decided by counting the worker's own failed probes
// (ingest_readiness_probes_total), not by sleeping.
import { randomBytes } from 'node:crypto';
import { symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IngestionStatus, IngestRuntime } from '@ingest/ingest';
import { spawnProcess, startTcpProxy, stopAllProcesses, waitFor, type TcpProxy, type TestProcess } from '@ingest/testkit';
import { createTestEnv, REPO_ROOT, type TestEnv } from './support.ts';

const MAIN = path.join(REPO_ROOT, 'apps/worker/src/main.ts');
const THRESHOLD = 2;

describe('worker readiness', () => {
  let t: TestEnv;
  let runtime: IngestRuntime;

  beforeAll(async () => {
    t = await createTestEnv({ METRICS_PORT: '0', WORKER_CONCURRENCY: '1', READINESS_INTERVAL_MS: '200', READINESS_THRESHOLD: String(THRESHOLD) });
    runtime = await t.runtime();
  });
  afterEach(async () => {
    expect(await stopAllProcesses()).toEqual([]);
  });
  afterAll(async () => {
    await t?.close();
  });

  async function startWorker(name: string, extra: Record<string, string>): Promise<{ proc: TestProcess; url: string }> {
    const proc = await spawnProcess(process.execPath, ['--import', 'tsx', MAIN], { cwd: REPO_ROOT, env: { ...t.env, ...extra }, name });
    const listening = await proc.waitForOutput(/"msg":"worker listening/, 60_000);
    return { proc, url: (JSON.parse(listening.line) as { metricsAddress: string }).metricsAddress };
  }

  const failedProbes = async (url: string): Promise<number> => {
    const text = await (await fetch(`${url}/metrics`)).text();
    return Number(/ingest_readiness_probes_total\{result="fail"\} (\d+)/.exec(text)?.[1] ?? 0);
  };
  const readyGauge = async (url: string): Promise<number> => Number(/^ingest_ready (\d)/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1]);

  /** Waits until the worker has failed `n` more probes than `from`: each is a moment it could have taken the job. */
  const afterFailedProbes = (url: string, from: number, n: number): Promise<number> =>
    waitFor(async () => ((await failedProbes(url)) >= from + n ? failedProbes(url) : undefined), { timeoutMs: 30_000, intervalMs: 100, what: `${n} failed probes` });

  // The very process started above, still running: it recovered without a restart.
  const alive = (proc: TestProcess): boolean => {
    try {
      process.kill(proc.pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  const notStarted = (s: IngestionStatus): boolean => s.status === 'running' && s.steps.every((step) => step.attempts === 0 && step.startedAt === null);

  const waitForEnd = (sagaId: string): Promise<IngestionStatus> =>
    waitFor(
      async () => {
        const s = await runtime.status(sagaId);
        return s.status === 'running' || s.status === 'compensating' ? undefined : s;
      },
      { timeoutMs: 90_000, intervalMs: 200, what: `saga ${sagaId} to end` },
    );

  it('SOURCE_ROOT missing: not ready, takes no job; the directory appears: ready, the saga completes, same process', async () => {
    const filePath = await t.writeSource('mount.bin', randomBytes(200_000));
    const { sagaId } = await runtime.submit({ filePath, metadata: { title: 'mount' } }, { requestedBy: 'test' });
    // The worker's volume: not mounted yet.
    const mount = `${t.sourceRoot}-mount`;
    const { proc, url } = await startWorker('worker-unmounted', { SOURCE_ROOT: mount });

    await afterFailedProbes(url, 0, THRESHOLD + 3);
    const readyz = await fetch(`${url}/readyz`);
    expect(readyz.status).toBe(503);
    expect(((await readyz.json()) as { checks: Record<string, string> }).checks.source_root).toMatch(/does not exist/);
    expect(await readyGauge(url)).toBe(0);
    expect(notStarted(await runtime.status(sagaId))).toBe(true);
    expect(proc.output().some((l) => /"msg":"worker ready"/.test(l))).toBe(false);

    await symlink(t.sourceRoot, mount);
    await proc.waitForOutput(/"msg":"worker ready"/, 30_000);
    expect((await waitForEnd(sagaId)).status).toBe('completed');
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect(await readyGauge(url)).toBe(1);
    expect(alive(proc)).toBe(true);
    proc.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
  });

  it.each([
    ['S3', 'S3_ENDPOINT', 's3'],
    ['PostgreSQL', 'DATABASE_URL', 'postgres'],
    ['Redis', 'REDIS_URL', 'redis'],
  ] as const)('%s unreachable: not ready (logged once), takes no job; back: ready again without a restart, the saga completes', async (_name, setting, check) => {
    const target = new URL(t.env[setting]!);
    const proxy: TcpProxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port) });
    try {
      const { proc, url } = await startWorker(`worker-${check}`, { [setting]: proxy.urlFor(t.env[setting]!) });
      await proc.waitForOutput(/"msg":"worker ready"/, 30_000);

      proxy.refuse();
      proxy.dropConnections();
      const down = await proc.waitForOutput(/"msg":"not ready: a dependency is missing or unreachable"/, 30_000);
      const filePath = await t.writeSource(`${check}-down.bin`, randomBytes(200_000));
      const { sagaId } = await runtime.submit({ filePath, metadata: { title: `${check} down` } }, { requestedBy: 'test' });
      await afterFailedProbes(url, await failedProbes(url), THRESHOLD + 3);
      const readyz = await fetch(`${url}/readyz`);
      expect(readyz.status).toBe(503);
      expect(((await readyz.json()) as { checks: Record<string, string> }).checks[check]).not.toBe('ok');
      expect(notStarted(await runtime.status(sagaId))).toBe(true);

      proxy.accept();
      // Redis's clients reconnect with a backoff of their own: allow for it.
      await proc.waitForOutput(/"msg":"ready: every dependency answers"/, 90_000, { after: down.index });
      expect((await waitForEnd(sagaId)).status).toBe('completed');
      // Transitions are logged once each, not once per probe.
      expect(proc.output().filter((l) => l.includes('"msg":"not ready:')).length).toBe(1);
      expect(alive(proc)).toBe(true);
      proc.kill('SIGTERM');
      expect((await proc.exited).code).toBe(0);
    } finally {
      await proxy.close();
    }
  });
});
