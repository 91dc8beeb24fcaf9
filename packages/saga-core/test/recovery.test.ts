// Crash and data-loss recovery with real processes: SIGKILL a worker mid-step, flush Redis mid-saga.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { waitFor, randomId } from '@ingest/testkit';
import { STEP_NAMES, orderSaga } from './fixtures/test-sagas.ts';
import { createHarness, effectsOf, type Harness } from './helpers.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
let h: Harness;
const children: ChildProcess[] = [];

function startWorkerProcess(prefix: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'fixtures/worker-process.ts')], {
    cwd: root,
    env: { ...process.env, DB_URL: h.db.url, REDIS_URL: h.redisUrl, PREFIX: prefix, LEASE_MS: '2000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes('worker ready')) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code, signal) => reject(new Error(`worker exited early (${code ?? signal}): ${out.slice(-2000)}`)));
  });
}

async function deletePrefixKeys(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl);
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) n += await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
  return n;
}

beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await h.close();
});

describe('recovery', () => {
  it('a worker SIGKILLed mid-step: another worker process finishes the saga, every effect exactly once', async () => {
    const prefix = `${h.prefix}${randomId()}`; // each test its own queues, so no other test's worker takes the job
    const starter = await h.engine([orderSaga(h.sql)], { prefix });
    const gate = `gate-${randomId()}`;
    const first = await startWorkerProcess(prefix);
    const { sagaId } = await starter.start('order', { blockAt: 'ship', gate });
    // The first worker is inside step "ship" (it blocks there on its first attempt).
    await waitFor(async () => (await h.sql`select 1 from effects where saga_id = ${sagaId} and kind = 'blocked'`).length > 0, { what: 'worker inside ship' });
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const second = await startWorkerProcess(prefix);
    const view = await h.waitForEnd(starter, sagaId, 60_000);
    expect(view.status).toBe('completed');
    expect(await effectsOf(h.sql, sagaId)).toEqual(STEP_NAMES.map((s) => `${s}:do`));
    const shipTries = await h.sql<{ attempt: number; pid: number }[]>`select attempt, pid from runs where saga_id = ${sagaId} and step = 'ship' and kind = 'try' order by id`;
    expect(shipTries.map((r) => r.pid)).toEqual([first.pid, second.pid]);
    expect(view.steps.find((s) => s.name === 'ship')?.attempts).toBe(2);
    const perStep = await h.sql<{ step: string; n: number }[]>`select step, count(*)::int as n from runs where saga_id = ${sagaId} and kind = 'do' group by step order by step`;
    expect(perStep.every((r) => r.n === 1)).toBe(true);
    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));
  });

  it('Redis loses every job of a saga: it is recovered from PostgreSQL', async () => {
    const prefix = `${h.prefix}${randomId()}`;
    const engine = await h.engine([orderSaga(h.sql)], { prefix });
    // No worker yet: the first job sits in Redis, then Redis loses it.
    const { sagaId } = await engine.start('order', {}, { lockKey: `file-${randomId()}` });
    expect(await deletePrefixKeys(h.redisUrl, prefix)).toBeGreaterThan(0);
    await engine.startWorkers({ concurrency: 2, maintenanceIntervalMs: 0 });
    const repaired = await engine.maintain({ idleMs: 0 });
    expect(repaired.redispatched).toBe(1);
    const view = await h.waitForEnd(engine, sagaId);
    expect(view.status).toBe('completed');
    expect(await effectsOf(h.sql, sagaId)).toEqual(STEP_NAMES.map((s) => `${s}:do`));
    const events = await h.sql`select type from saga_events where saga_id = ${sagaId} and type = 'job_redispatched'`;
    expect(events.length).toBe(1);
  });

  it('Redis flushed while a step runs: the saga still completes, nothing runs twice', async () => {
    const prefix = `${h.prefix}${randomId()}`;
    const engine = await h.engine([orderSaga(h.sql)], { prefix });
    await engine.startWorkers({ concurrency: 2, maintenanceIntervalMs: 500 });
    const gate = `gate-${randomId()}`;
    const { sagaId } = await engine.start('order', { blockAt: 'charge', gate });
    await waitFor(async () => (await h.sql`select 1 from effects where saga_id = ${sagaId} and kind = 'blocked'`).length > 0);
    await deletePrefixKeys(h.redisUrl, prefix);
    await h.sql`insert into gates (name) values (${gate})`;
    const view = await h.waitForEnd(engine, sagaId, 60_000);
    expect(view.status).toBe('completed');
    const dos = await h.sql<{ n: number }[]>`select count(*)::int as n from runs where saga_id = ${sagaId} and kind = 'do'`;
    expect(dos[0]?.n).toBe(STEP_NAMES.length);
  });

  it('an outbox row committed but never enqueued (crash in between) is delivered by the relay', async () => {
    const prefix = `${h.prefix}${randomId()}`;
    const engine = await h.engine([orderSaga(h.sql)], { prefix });
    const { sagaId } = await engine.start('order', {});
    await deletePrefixKeys(h.redisUrl, prefix);
    await h.sql`update saga_outbox set dispatched_at = null where saga_id = ${sagaId}`;
    const repaired = await engine.maintain({ relayOlderThanMs: 0 });
    expect(repaired.relayed).toBe(1);
    await engine.startWorkers({ concurrency: 2, maintenanceIntervalMs: 0 });
    expect((await h.waitForEnd(engine, sagaId)).status).toBe('completed');
  });
});

describe('graceful shutdown', () => {
  it('SIGTERM mid-step hands the step back (paused, attempt not counted) and another worker finishes it', async () => {
    const prefix = `${h.prefix}${randomId()}`; // each test its own queues, so no other test's worker takes the job
    const starter = await h.engine([orderSaga(h.sql)], { prefix });
    const gate = `gate-${randomId()}`;
    const first = await startWorkerProcess(prefix);
    const { sagaId } = await starter.start('order', { blockAt: 'charge', gate });
    await waitFor(async () => (await h.sql`select 1 from effects where saga_id = ${sagaId} and kind = 'blocked'`).length > 0);
    first.kill('SIGTERM');
    const exit = await new Promise<number | null>((r) => first.once('exit', (code) => r(code)));
    expect(exit).toBe(0);
    // Handed back: the dying worker no longer owns it (another worker of this file may already have claimed it).
    const paused = await h.sql<{ lease_owner: string | null }[]>`select lease_owner from saga_instances where id = ${sagaId}`;
    expect(paused[0]?.lease_owner ?? '').not.toContain(`:${first.pid}:`);
    const events = await h.sql`select type from saga_events where saga_id = ${sagaId} and type = 'step_paused'`;
    expect(events.length).toBe(1);
    await h.sql`insert into gates (name) values (${gate})`;
    const second = await startWorkerProcess(prefix);
    const view = await h.waitForEnd(starter, sagaId, 60_000);
    expect(view.status).toBe('completed');
    expect(view.steps.find((s) => s.name === 'charge')?.attempts).toBe(1);
    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));
  });
});
