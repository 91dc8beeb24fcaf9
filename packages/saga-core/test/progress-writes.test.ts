// Progress writes: none for a step that ends within its first interval; the latest report of an interval is written at
// its end, so a step that stalls after a burst of reports still shows where it stands.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@ingest/testkit';
import { defineSaga, type SagaEngine } from '../src/index.ts';
import { createHarness, type Harness } from './helpers.ts';

let h: Harness;
let quickEngine: SagaEngine;
let stallEngine: SagaEngine;
let release: () => void = () => undefined;
const released = new Promise<void>((r) => {
  release = r;
});

beforeAll(async () => {
  h = await createHarness();
  const quick = defineSaga<Record<string, never>, { work: null }>({
    name: 'quick',
    steps: [
      {
        name: 'work',
        async action(ctx) {
          await ctx.reportProgress({ n: 1 });
          return null;
        },
      },
    ],
  });
  const stalled = defineSaga<Record<string, never>, { work: null }>({
    name: 'stalled',
    steps: [
      {
        name: 'work',
        longRunning: true,
        async action(ctx) {
          await ctx.reportProgress({ n: 1 });
          await ctx.reportProgress({ n: 2 });
          await released;
          return null;
        },
      },
    ],
  });
  // An interval no step of this test can outlive: the quick step's report falls inside its first one.
  quickEngine = await h.engine([quick], { prefix: `${h.prefix}q`, progressIntervalMs: 60_000 });
  stallEngine = await h.engine([stalled], { prefix: `${h.prefix}s`, progressIntervalMs: 300 });
  await quickEngine.startWorkers({ concurrency: 1, maintenanceIntervalMs: 0 });
  await stallEngine.startWorkers({ concurrency: 1, maintenanceIntervalMs: 0 });
});
afterAll(async () => {
  release();
  await h.close();
});

describe('progress writes', () => {
  it('writes nothing for a step that ends within its first interval', async () => {
    const { sagaId } = await quickEngine.start('quick', {});
    const view = await h.waitForEnd(quickEngine, sagaId);
    expect(view.status).toBe('completed');
    expect(view.progress).toBeNull();
  });

  it('writes the last report of an interval at its end while the step is stalled', async () => {
    const { sagaId } = await stallEngine.start('stalled', {});
    const seen = await waitFor(async () => {
      const v = await stallEngine.get(sagaId);
      return v.progress?.n === 2 ? v : undefined;
    }, { timeoutMs: 30_000, what: 'the second report written while the step waits' });
    expect(seen.status).toBe('running');
    release();
    expect((await h.waitForEnd(stallEngine, sagaId)).status).toBe('completed');
  });
});
