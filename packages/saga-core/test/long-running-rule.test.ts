// A step whose longRunning is a rule over the input: claimed under a lease when the rule says so, run unclaimed otherwise.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineSaga, type SagaEngine } from '../src/index.ts';
import { createHarness, type Harness } from './helpers.ts';

type SizedInput = { big: boolean };
type SizedOutputs = { first: { ok: true }; work: { leaseOwner: string | null }; last: { ok: true } };

let h: Harness;
let engine: SagaEngine;

beforeAll(async () => {
  h = await createHarness();
  const sql = h.sql;
  const sized = defineSaga<SizedInput, SizedOutputs>({
    name: 'sized',
    steps: [
      { name: 'first', action: async () => ({ ok: true }) },
      {
        name: 'work',
        longRunning: (input) => input.big,
        // What PostgreSQL says while the step runs: a claimed step holds the saga's lease, an unclaimed one does not.
        async action(ctx) {
          const [row] = await sql<{ lease_owner: string | null }[]>`select lease_owner from saga_instances where id = ${ctx.sagaId}`;
          return { leaseOwner: row?.lease_owner ?? null };
        },
      },
      { name: 'last', action: async () => ({ ok: true }) },
    ],
  });
  engine = await h.engine([sized]);
  await engine.startWorkers({ concurrency: 2, maintenanceIntervalMs: 0 });
});
afterAll(async () => h.close());

describe('longRunning as a rule over the input', () => {
  it('leases the step when the rule is true and runs it unclaimed when it is false', async () => {
    const small = await engine.start('sized', { big: false });
    const large = await engine.start('sized', { big: true });
    const [smallView, largeView] = await Promise.all([h.waitForEnd(engine, small.sagaId), h.waitForEnd(engine, large.sagaId)]);
    expect(smallView.status).toBe('completed');
    expect(largeView.status).toBe('completed');
    expect(smallView.steps.find((s) => s.name === 'work')?.output).toEqual({ leaseOwner: null });
    expect(largeView.steps.find((s) => s.name === 'work')?.output).toEqual({ leaseOwner: expect.any(String) });
    // Either way each step ran once.
    for (const view of [smallView, largeView]) expect(view.steps.map((s) => [s.name, s.status, s.attempts])).toEqual([['first', 'succeeded', 1], ['work', 'succeeded', 1], ['last', 'succeeded', 1]]);
  });
});
