// Alerts reach someone: a saga whose compensation fails for good writes alert rows (a leftover recorded, the saga
// ended compensation_failed); they are POSTed to a real HTTP receiver process that is down at first, then answers
// 503 to its first attempts. Every alert arrives exactly once with a 2xx, none is lost, and the outbox is empty.
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import postgres, { type Sql } from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CompensationFailed, SagaRollbackRequired, createSagaEngine, defineSaga, migrateSagaCore, type SagaEngine } from '@ingest/saga-core';
import { createTestDatabase, flushPrefix, randomId, requireEnv, spawnProcess, stopAllProcesses, waitFor, type TestDatabase } from '@ingest/testkit';
import { deliverAlerts, type AlertPayload } from '../src/index.ts';

const RECEIVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/webhook-receiver.mjs');
const logger = pino({ level: 'silent' });

const failingRollback = defineSaga<{ n: number }>({
  name: 'alerting',
  // The store its compensation names; nothing here retries it.
  stores: { blob: { undo: async () => undefined, exists: async () => true } },
  steps: [
    {
      name: 'store',
      async action() {
        return { stored: true };
      },
      async compensation() {
        throw new CompensationFailed('store unreachable', [{ store: 'blob', key: 'blob/1', error: 'store unreachable' }]);
      },
      compensationRetry: { attempts: 1, backoffMs: 10 },
    },
    {
      name: 'index',
      async action() {
        throw new SagaRollbackRequired('HASH_MISMATCH', 'the stored bytes differ');
      },
    },
  ],
});

/** A port nothing listens on now (the receiver starts on it later). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('alert delivery to a webhook', () => {
  let db: TestDatabase;
  let sql: Sql;
  let engine: SagaEngine;
  const prefix = `t${randomId()}`;

  beforeAll(async () => {
    db = await createTestDatabase('ops');
    sql = postgres(db.url, { max: 4, onnotice: () => {} });
    await migrateSagaCore(sql);
    engine = await createSagaEngine({ sql, redisUrl: requireEnv('REDIS_URL'), sagas: [failingRollback], prefix, logger });
    await engine.startWorkers({ concurrency: 2 });
  });

  afterEach(async () => {
    expect(await stopAllProcesses()).toEqual([]);
  });

  afterAll(async () => {
    await engine?.close();
    await sql?.end({ timeout: 5 });
    await flushPrefix(requireEnv('REDIS_URL'), prefix);
    await db?.drop();
  });

  it('delivers each alert once, through an outage and failing first attempts', async () => {
    const { sagaId } = await engine.start('alerting', { n: 1 });
    const ended = await waitFor(async () => {
      const s = await engine.get(sagaId);
      return s.status === 'running' || s.status === 'compensating' ? undefined : s;
    }, { timeoutMs: 60_000, what: 'the saga to end' });
    expect(ended.status).toBe('compensation_failed');
    const alerts = await sql<{ id: number; type: string }[]>`select id::int as id, type from saga_alerts where saga_id = ${sagaId} order by id`;
    expect(alerts.map((a) => a.type).sort()).toEqual(['COMPENSATION_FAILED', 'ROLLBACK_FAILED']);
    // The outbox rows were written with the alerts (trigger), before anyone tried to deliver.
    expect(await sql`select alert_id from alert_deliveries where delivered_at is null`).toHaveLength(2);

    const port = await freePort();
    const options = { sql, webhookUrl: `http://127.0.0.1:${port}/hook`, logger, baseBackoffMs: 50 };

    // The webhook is down: nothing is delivered, nothing is dropped, each row waits for its next attempt.
    expect(await deliverAlerts(options)).toEqual({ attempted: 2, delivered: 0, failed: 2 });
    const waiting = await sql<{ attempts: number; last_error: string }[]>`select attempts, last_error from alert_deliveries where delivered_at is null`;
    expect(waiting).toHaveLength(2);
    expect(waiting.every((w) => w.attempts === 1 && w.last_error !== null)).toBe(true);

    // Back up, but answering 503 to its first three requests.
    const receiver = await spawnProcess(process.execPath, [RECEIVER, '3', String(port)], { name: 'webhook receiver' });
    await receiver.waitForOutput(/^listening /);
    const totals = { delivered: 0, failed: 0 };
    await waitFor(async () => {
      const r = await deliverAlerts(options);
      totals.delivered += r.delivered;
      totals.failed += r.failed;
      return totals.delivered === 2;
    }, { timeoutMs: 60_000, intervalMs: 100, what: 'both alerts delivered' });
    expect(totals.failed).toBe(3);

    // Nothing left to deliver, and another pass sends nothing again.
    expect(await deliverAlerts(options)).toEqual({ attempted: 0, delivered: 0, failed: 0 });
    expect(await sql`select alert_id from alert_deliveries where delivered_at is null`).toHaveLength(0);

    const requests = receiver
      .output()
      .filter((l) => l.startsWith('request '))
      .map((l) => JSON.parse(l.slice('request '.length)) as { ok: boolean; key: string; body: AlertPayload });
    expect(requests).toHaveLength(5);
    const accepted = requests.filter((r) => r.ok);
    expect(accepted.map((r) => r.body.id).sort()).toEqual(alerts.map((a) => a.id).sort());
    expect(accepted.map((r) => r.key).sort()).toEqual(alerts.map((a) => `alert-${a.id}`).sort());
    for (const r of accepted) expect(r.body).toMatchObject({ sagaId, severity: 'critical', message: expect.any(String), createdAt: expect.any(String) });
    receiver.kill();
    expect(await receiver.exited).toEqual({ code: 0, signal: null });
  });

  it('posts a Slack-compatible body when asked', async () => {
    const [alert] = await sql<{ id: number }[]>`insert into saga_alerts (severity, type, message) values ('critical', 'TEST', 'a test alert') returning id::int as id`;
    const receiver = await spawnProcess(process.execPath, [RECEIVER, '0', '0'], { name: 'webhook receiver' });
    const { line: listening } = await receiver.waitForOutput(/^listening /);
    const url = `http://127.0.0.1:${listening.split(' ')[1]}/slack`;
    expect(await deliverAlerts({ sql, webhookUrl: url, format: 'slack', logger })).toEqual({ attempted: 1, delivered: 1, failed: 0 });
    const line = await receiver.waitForOutput(/^request /);
    const body = (JSON.parse(line.line.slice('request '.length)) as { body: { text: string; alert: AlertPayload } }).body;
    expect(body.text).toBe('[critical] TEST: a test alert'.replace('[', ':rotating_light: ['));
    expect(body.alert.id).toBe(alert!.id);
    receiver.kill();
    expect(await receiver.exited).toEqual({ code: 0, signal: null });
  });
});
