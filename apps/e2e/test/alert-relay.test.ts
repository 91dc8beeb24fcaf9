// Who delivers alerts, as real processes: a one-shot janitor pass posts due alerts to ALERT_WEBHOOK_URL (the
// backstop) and a running worker posts them within seconds; both against a real receiver process. (The engine writing
// the alert rows, retries and backoff are covered by packages/ops/test/alert-delivery.test.ts.)
import path from 'node:path';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JanitorSummary } from '@ingest/ingest';
import { createTestEnv, type TestEnv } from '@ingest/ingest/testing';
import { spawnProcess, stopAllProcesses, waitFor, type TestProcess } from '@ingest/testkit';
import { REPO_ROOT } from './world.ts';

const RECEIVER = path.join(REPO_ROOT, 'packages/ops/test/fixtures/webhook-receiver.mjs');
const JANITOR = path.join(REPO_ROOT, 'apps/janitor/src/main.ts');
const WORKER = path.join(REPO_ROOT, 'apps/worker/src/main.ts');

/** Alert ids the receiver accepted (2xx). */
function accepted(receiver: TestProcess): number[] {
  return receiver
    .output()
    .filter((l) => l.startsWith('request '))
    .map((l) => JSON.parse(l.slice('request '.length)) as { ok: boolean; body: { id: number } })
    .filter((r) => r.ok)
    .map((r) => r.body.id);
}

describe('alert relay in the janitor and the worker', () => {
  let t: TestEnv;
  let sql: Sql;
  let receiver: TestProcess;

  beforeAll(async () => {
    receiver = await spawnProcess(process.execPath, [RECEIVER, '0', '0'], { name: 'webhook receiver' });
    const { line } = await receiver.waitForOutput(/^listening /);
    t = await createTestEnv({ ALERT_WEBHOOK_URL: `http://127.0.0.1:${line.split(' ')[1]}/alerts`, ALERT_DELIVERY_INTERVAL_MS: '200', METRICS_PORT: '0' });
    // Migrations run once here, before the processes start.
    await t.runtime();
    sql = postgres(t.env.DATABASE_URL!, { max: 2, onnotice: () => {} });
  });

  afterAll(async () => {
    receiver?.kill();
    await receiver?.exited;
    expect(await stopAllProcesses()).toEqual([]);
    await sql?.end({ timeout: 5 });
    await t?.close();
  });

  const raise = async (message: string): Promise<number> => {
    const [row] = await sql<{ id: number }[]>`insert into saga_alerts (severity, type, message) values ('critical', 'ROLLBACK_FAILED', ${message}) returning id::int as id`;
    return row!.id;
  };

  it('a janitor pass delivers due alerts and says so in its summary', async () => {
    const id = await raise('delivered by the janitor');
    const janitor = await spawnProcess(process.execPath, ['--import', 'tsx', JANITOR], { cwd: REPO_ROOT, env: t.env, name: 'janitor' });
    expect(await janitor.exited).toEqual({ code: 0, signal: null });
    const lines = janitor.output();
    const summary = JSON.parse(lines[lines.findIndex((l) => l.startsWith('janitor pass: ')) + 1] ?? '') as JanitorSummary;
    expect(summary.alerts).toEqual({ attempted: 1, delivered: 1, failed: 0 });
    expect(lines.some((l) => l.includes('alerts 1/1 delivered'))).toBe(true);
    expect(accepted(receiver)).toEqual([id]);
  });

  it('a running worker delivers a new alert within seconds, and stops cleanly', async () => {
    const worker = await spawnProcess(process.execPath, ['--import', 'tsx', WORKER], { cwd: REPO_ROOT, env: t.env, name: 'worker' });
    await worker.waitForOutput(/"msg":"worker ready"/, 60_000);
    const id = await raise('delivered by a worker');
    await waitFor(() => accepted(receiver).includes(id), { timeoutMs: 60_000, what: 'the worker to deliver the alert' });
    expect(accepted(receiver).filter((x) => x === id)).toHaveLength(1);
    worker.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    // The webhook URL is a secret: never in the worker's log.
    expect(worker.output().some((l) => l.includes('/alerts'))).toBe(false);
  });
});
