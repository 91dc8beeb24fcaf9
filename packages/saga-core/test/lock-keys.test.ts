// A saga holding several exclusivity keys: taken together at start, re-checked before each action, released together.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { Sql } from 'postgres';
import { randomId, waitFor } from '@ingest/testkit';
import { SagaLockedError, SagaRollbackRequired, defineSaga, type SagaDefinition, type SagaEngine, type StepContext } from '../src/index.ts';
import { createHarness, type Harness } from './helpers.ts';

type LockedInput = {
  /** The saga's exclusivity keys (its definition declares them from the input). */
  keys: string[];
  /** Steps that wait, before doing anything, until the gate row `<gate>:<step>` exists. */
  waitAt?: string[];
  gate?: string;
  /** Step that refuses (the saga rolls back). */
  fatalAt?: string;
};

const STEPS = ['one', 'two', 'three'];

// Each waiting step records that it is waiting (`marks`), so a test knows which action has begun.
function lockedSaga(sql: Sql): SagaDefinition<LockedInput> {
  const action = async (ctx: StepContext<LockedInput>) => {
    if (ctx.input.waitAt?.includes(ctx.step) && ctx.attempt === 1) {
      await sql`insert into marks (saga_id, step) values (${ctx.sagaId}, ${ctx.step}) on conflict do nothing`;
      const gate = `${ctx.input.gate}:${ctx.step}`;
      while ((await sql`select 1 from gates where name = ${gate}`).length === 0) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    if (ctx.input.fatalAt === ctx.step) throw new SagaRollbackRequired('TEST_FATAL', `step ${ctx.step} refuses`);
    return null;
  };
  return defineSaga<LockedInput>({
    name: 'locked',
    timeoutSeconds: 120,
    exclusivityKey: (input) => input.keys,
    steps: STEPS.map((name) => ({ name, timeoutMs: 20_000, retry: { attempts: 1, backoffMs: 10 }, action, compensation: async () => undefined })),
  });
}

let h: Harness;
let engine: SagaEngine;
let redis: Redis;

beforeAll(async () => {
  h = await createHarness();
  await h.sql`create table if not exists marks (saga_id uuid not null, step text not null, primary key (saga_id, step))`;
  engine = await h.engine([lockedSaga(h.sql)]);
  await engine.startWorkers({ concurrency: 4, maintenanceIntervalMs: 0 });
  redis = new Redis(h.redisUrl);
});
afterAll(async () => {
  redis?.disconnect();
  await h.close();
});

const lockOf = (key: string) => redis.get(`${h.prefix}:lock:${key}`);
const openGate = (gate: string, step: string) => h.sql`insert into gates (name) values (${`${gate}:${step}`})`;
const waitingAt = (sagaId: string, step: string) =>
  waitFor(async () => ((await h.sql`select 1 from marks where saga_id = ${sagaId} and step = ${step}`).length > 0 ? true : undefined), { what: `${step} of ${sagaId} to wait` });

/** Starts a saga on two fresh keys that waits in `waitAt` steps; returns its id, keys and gate. */
async function startHolding(waitAt: string[], more: Partial<LockedInput> = {}): Promise<{ sagaId: string; keys: [string, string]; gate: string }> {
  const keys: [string, string] = [`doc-${randomId()}`, `file-${randomId()}`];
  const gate = `gate-${randomId()}`;
  const { sagaId } = await engine.start('locked', { keys, waitAt, gate, ...more });
  return { sagaId, keys, gate };
}

describe('several exclusivity keys', () => {
  it('refuses a second saga on either key, naming that key and its holder; the view lists both', async () => {
    const a = await startHolding(['one']);
    for (const key of a.keys) {
      const err = await engine.start('locked', { keys: [key, `other-${randomId()}`] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SagaLockedError);
      expect(err).toMatchObject({ code: 'LOCKED', lockKey: key, holderSagaId: a.sagaId });
    }
    // The refused starts took nothing: their other key is free, and the holder still has both.
    expect(await lockOf(a.keys[0])).toBe(a.sagaId);
    expect(await lockOf(a.keys[1])).toBe(a.sagaId);
    const view = await engine.get(a.sagaId);
    expect(view.lockKey).toBe(a.keys[0]);
    expect(view.lockKeys).toEqual(a.keys);
    await openGate(a.gate, 'one');
    expect((await h.waitForEnd(engine, a.sagaId)).status).toBe('completed');
  });

  it('releases both keys when the saga completes, and when it rolls back', async () => {
    const done = await startHolding([]);
    expect((await h.waitForEnd(engine, done.sagaId)).status).toBe('completed');
    expect(await lockOf(done.keys[0])).toBeNull();
    expect(await lockOf(done.keys[1])).toBeNull();

    const failed = await startHolding([], { fatalAt: 'two' });
    expect((await h.waitForEnd(engine, failed.sagaId)).status).toBe('compensated');
    expect(await lockOf(failed.keys[0])).toBeNull();
    expect(await lockOf(failed.keys[1])).toBeNull();
    // Free for the next saga on the same pair.
    const next = await engine.start('locked', { keys: failed.keys });
    expect((await h.waitForEnd(engine, next.sagaId)).status).toBe('completed');
  });

  it('re-takes both keys before its next action when Redis lost them', async () => {
    const a = await startHolding(['one', 'two']);
    await waitingAt(a.sagaId, 'one');
    await redis.del(`${h.prefix}:lock:${a.keys[0]}`, `${h.prefix}:lock:${a.keys[1]}`);
    expect(await lockOf(a.keys[0])).toBeNull();
    // A step run right after another skips the check for a second (LOCK_RECHECK_MS); wait it out so `two` checks.
    await new Promise((r) => setTimeout(r, 1100));
    await openGate(a.gate, 'one');
    await waitingAt(a.sagaId, 'two');
    expect(await lockOf(a.keys[0])).toBe(a.sagaId);
    expect(await lockOf(a.keys[1])).toBe(a.sagaId);
    await openGate(a.gate, 'two');
    expect((await h.waitForEnd(engine, a.sagaId)).status).toBe('completed');
  });

  it('a start that took over a stale key gives it back when its other key is held by a live saga', async () => {
    const ended = await startHolding([]);
    await h.waitForEnd(engine, ended.sagaId);
    const live = await startHolding(['one']);
    const stale = `a-stale-${randomId()}`;
    await redis.set(`${h.prefix}:lock:${stale}`, ended.sagaId); // a release that was lost
    // `a-stale-…` sorts before the live saga's file- key: it is taken over first, then given back.
    const err = await engine.start('locked', { keys: [stale, live.keys[1]] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'LOCKED', lockKey: live.keys[1], holderSagaId: live.sagaId });
    expect(await lockOf(stale)).toBeNull();
    await openGate(live.gate, 'one');
    await h.waitForEnd(engine, live.sagaId);
  });

  it('the stale-lock pass frees every key of an ended saga and none of a live one', async () => {
    const ended = await startHolding([]);
    await h.waitForEnd(engine, ended.sagaId);
    // As if the release at its end had been lost.
    for (const key of ended.keys) await redis.set(`${h.prefix}:lock:${key}`, ended.sagaId);
    const live = await startHolding(['one']);
    const r = await engine.maintain();
    expect(r.releasedLocks).toBeGreaterThanOrEqual(2);
    expect(await lockOf(ended.keys[0])).toBeNull();
    expect(await lockOf(ended.keys[1])).toBeNull();
    expect(await lockOf(live.keys[0])).toBe(live.sagaId);
    expect(await lockOf(live.keys[1])).toBe(live.sagaId);
    await openGate(live.gate, 'one');
    await h.waitForEnd(engine, live.sagaId);
  });

  it('keeps the first key as the primary in PostgreSQL (its live-lock index refuses a start Redis would let through)', async () => {
    const a = await startHolding(['one']);
    const [row] = await h.sql<{ lock_key: string; extra_lock_keys: string[] }[]>`select lock_key, extra_lock_keys from saga_instances where id = ${a.sagaId}`;
    expect(row).toEqual({ lock_key: a.keys[0], extra_lock_keys: [a.keys[1]] });
    await redis.del(`${h.prefix}:lock:${a.keys[0]}`);
    const err = await engine.start('locked', { keys: [a.keys[0]] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'LOCKED', lockKey: a.keys[0], holderSagaId: a.sagaId });
    await openGate(a.gate, 'one');
    await h.waitForEnd(engine, a.sagaId);
  });

  it('refuses a malformed key with a clear input error and takes nothing', async () => {
    const err = await engine.start('locked', { keys: ['ok', ''] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_INPUT' });
    expect((err as Error).message).toContain('exclusivity key');
    expect(await lockOf('ok')).toBeNull();
  });
});
