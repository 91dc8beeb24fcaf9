// Retention on real PostgreSQL and Redis: what pruneHistory removes, and everything it must leave alone (live
// sagas and their undelivered outbox rows, sagas with unresolved leftovers, sagas within the retention period).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@ingest/testkit';
import { defineSaga, type SagaDefinition, type SagaEngine } from '../src/index.ts';
import { STEP_NAMES, orderSaga, type TestInput } from './fixtures/test-sagas.ts';
import { createHarness, effectsOf, type Harness } from './helpers.ts';

let h: Harness;
let engine: SagaEngine;

/** The order saga with its leftover store declared: its undo succeeds once the gate row `store-back` exists. */
function orderWithStore(h: Harness): SagaDefinition<TestInput> {
  const base = orderSaga(h.sql);
  return defineSaga<TestInput>({
    name: 'order',
    timeoutSeconds: 120,
    steps: base.steps,
    stores: {
      'test-store': {
        async undo() {
          const [back] = await h.sql`select 1 from gates where name = 'store-back'`;
          if (!back) throw new Error('test store still unreachable');
        },
        exists: async () => true,
      },
    },
  });
}

/** Rows of every engine table that belong to a saga. */
async function rowsOf(sagaId: string): Promise<Record<string, number>> {
  const [r] = await h.sql<{ instance: number; steps: number; events: number; outbox: number; cleanups: number }[]>`
    select (select count(*)::int from saga_instances where id = ${sagaId}) as instance,
           (select count(*)::int from saga_steps where saga_id = ${sagaId}) as steps,
           (select count(*)::int from saga_events where saga_id = ${sagaId}) as events,
           (select count(*)::int from saga_outbox where saga_id = ${sagaId}) as outbox,
           (select count(*)::int from failed_cleanups where saga_id = ${sagaId}) as cleanups`;
  return { ...r! };
}

beforeAll(async () => {
  h = await createHarness();
  engine = await h.engine([orderWithStore(h)]);
  await engine.startWorkers({ concurrency: 4, maintenanceIntervalMs: 0 });
});
afterAll(async () => h.close());

describe('pruneHistory', () => {
  it('prunes ended sagas past the period, keeps live ones, their undelivered rows and unresolved leftovers, and live sagas then finish', async () => {
    const completed = (await engine.start('order', {})).sagaId;
    const compensated = (await engine.start('order', { fatalAt: 'ship' })).sagaId;
    const leftover = (await engine.start('order', { fatalAt: 'notify', compensationFailsAt: 'charge' })).sagaId;
    for (const id of [completed, compensated, leftover]) await h.waitForEnd(engine, id);
    expect((await engine.get(leftover)).status).toBe('compensation_failed');

    // A live saga blocked in `ship` (its step holds the job) and one whose next job sits undelivered in the outbox.
    const live = (await engine.start('order', { blockAt: 'ship', gate: 'live-go' })).sagaId;
    await waitFor(async () => (await h.sql`select 1 from effects where saga_id = ${live} and kind = 'blocked'`).length > 0 || undefined, { what: 'live saga to block' });
    const undelivered = (await engine.start('order', { blockAt: 'reserve', gate: 'undelivered-go' })).sagaId;
    await waitFor(async () => (await h.sql`select 1 from effects where saga_id = ${undelivered} and kind = 'blocked'`).length > 0 || undefined, { what: 'second saga to block' });
    // Its outbox row as a crash between commit and enqueue leaves it: the relay must still find it after retention.
    await h.sql`update saga_outbox set dispatched_at = null where saga_id = ${undelivered}`;

    // A period longer than their age: only delivered outbox rows go.
    const early = await engine.pruneHistory({ retainMs: 3_600_000 });
    expect(early.sagasPruned).toBe(0);
    expect(early.outboxDelivered).toBeGreaterThan(0);
    expect(await h.sql`select id from saga_outbox where dispatched_at is not null`).toHaveLength(0);
    expect((await rowsOf(completed)).events).toBeGreaterThan(0);
    expect((await rowsOf(undelivered)).outbox).toBe(1);

    // Zero retention, in batches of one: every ended saga without an open leftover goes; the others stay whole.
    const before = { live: await rowsOf(live), undelivered: await rowsOf(undelivered), leftover: await rowsOf(leftover) };
    const seen: string[] = [];
    const pass = await engine.pruneHistory({
      retainMs: 0,
      batchSize: 1,
      release: async (sagas) => {
        seen.push(...sagas.map((s) => s.id));
        return sagas.map((s) => s.id);
      },
    });
    expect(new Set(seen)).toEqual(new Set([completed, compensated]));
    expect(pass).toMatchObject({ sagasPruned: 2, sagasForgotten: 1, held: 0 });
    // A completed saga keeps its row (it names what it committed), without steps or events; a rolled-back one is gone.
    expect(await rowsOf(completed)).toEqual({ instance: 1, steps: 0, events: 0, outbox: 0, cleanups: 0 });
    expect((await engine.get(completed)).status).toBe('completed');
    expect(await rowsOf(compensated)).toEqual({ instance: 0, steps: 0, events: 0, outbox: 0, cleanups: 0 });
    expect(await rowsOf(leftover)).toEqual(before.leftover);
    expect(await rowsOf(live)).toEqual(before.live);
    expect(await rowsOf(undelivered)).toEqual(before.undelivered);
    // A second pass finds nothing new: pruned sagas drop out of the candidates.
    expect(await engine.pruneHistory({ retainMs: 0 })).toMatchObject({ sagasPruned: 0 });

    // A saga the release hook holds back keeps everything until a later pass releases it.
    const heldBack = (await engine.start('order', {})).sagaId;
    await h.waitForEnd(engine, heldBack);
    expect(await engine.pruneHistory({ retainMs: 0, release: async () => [] })).toMatchObject({ sagasPruned: 0, held: 1 });
    expect((await rowsOf(heldBack)).steps).toBe(STEP_NAMES.length);

    // The live sagas finish correctly once their steps may go on.
    await h.sql`insert into gates (name) values ('live-go'), ('undelivered-go')`;
    for (const id of [live, undelivered]) {
      expect((await h.waitForEnd(engine, id)).status).toBe('completed');
      expect(await effectsOf(h.sql, id)).toEqual(STEP_NAMES.map((s) => `${s}:do`));
    }

    // The leftover's saga goes once the janitor resolved its leftover.
    await h.sql`insert into gates (name) values ('store-back')`;
    expect(await engine.retryFailedCleanups({ ids: (await h.sql<{ id: number }[]>`select id from failed_cleanups where saga_id = ${leftover}`).map((r) => Number(r.id)) })).toMatchObject({ resolved: 1 });
    const after = await engine.pruneHistory({ retainMs: 0 });
    expect(after.sagasPruned).toBe(4);
    expect(await rowsOf(leftover)).toEqual({ instance: 0, steps: 0, events: 0, outbox: 0, cleanups: 0 });
    expect(await h.sql`select id from saga_outbox`).toHaveLength(0);
  });

  it('refuses a negative period or an empty batch with a clear error', async () => {
    await expect(engine.pruneHistory({ retainMs: -1 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(engine.pruneHistory({ retainMs: 0, batchSize: 0 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});
