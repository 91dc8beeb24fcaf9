// A step's own concurrency bounds how many of its deliveries one worker runs at once, below the worker's concurrency.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { defineSaga, type SagaEngine } from '../src/index.ts';
import { createHarness, type Harness } from './helpers.ts';

const SAGAS = 3;

let h: Harness;
let engine: SagaEngine;
let queue: Queue;
let redis: Redis;
let running = 0;
let mostAtOnce = 0;
// Set once every saga's heavy job was seen queued (completed jobs are removed, so later runs cannot count them).
let allQueued = false;

beforeAll(async () => {
  h = await createHarness();
  const bounded = defineSaga<Record<string, never>, { first: null; heavy: null }>({
    name: 'bounded',
    steps: [
      { name: 'first', action: async () => null },
      {
        name: 'heavy',
        longRunning: true,
        concurrency: 1,
        // The first run holds its slot until every saga's heavy job is queued, so a worker allowed more would run them together.
        async action() {
          running += 1;
          mostAtOnce = Math.max(mostAtOnce, running);
          try {
            while (!allQueued) {
              const c = await queue.getJobCounts('waiting', 'active');
              allQueued = (c.waiting ?? 0) + (c.active ?? 0) >= SAGAS;
              if (!allQueued) await new Promise((r) => setTimeout(r, 20));
            }
            await new Promise((r) => setTimeout(r, 100));
          } finally {
            running -= 1;
          }
          return null;
        },
      },
    ],
  });
  engine = await h.engine([bounded]);
  redis = new Redis(h.redisUrl, { maxRetriesPerRequest: null });
  queue = new Queue('bounded.heavy.do', { connection: redis, prefix: h.prefix });
  await engine.startWorkers({ concurrency: 4, maintenanceIntervalMs: 0 });
});
afterAll(async () => {
  await queue?.close();
  redis?.disconnect();
  await h.close();
});

describe('step concurrency', () => {
  it('runs at most the declared number of a step at once, though the worker takes 4 jobs per queue', async () => {
    const started = await Promise.all(Array.from({ length: SAGAS }, () => engine.start('bounded', {})));
    const views = await Promise.all(started.map((s) => h.waitForEnd(engine, s.sagaId)));
    expect(views.map((v) => v.status)).toEqual(Array(SAGAS).fill('completed'));
    expect(mostAtOnce).toBe(1);
  });
});
