// The janitor runs one pass, or loops until aborted while always finishing the pass in progress.
import { describe, expect, it } from 'vitest';
import type { JanitorSummary } from '@ingest/ingest';
import { runJanitor } from '../src/janitor-loop.ts';
import { formatSummaryLine } from '../src/summary-line.ts';

const summary = (n: number): JanitorSummary => ({
  cleanups: { attempted: n, resolved: n, failed: 0 },
  alerts: { attempted: 0, delivered: 0, failed: 0 },
  relayed: 0,
  redispatched: 0,
  rolledBackOverdue: 0,
  releasedLocks: 0,
  orphanChunksDeleted: 0,
  orphanPrefixes: [],
  retention: { outboxDelivered: 0, sagasPruned: 0, sagasForgotten: 0, historyRows: 0, operationsPruned: 0, held: 0 },
  durationMs: 5,
});

describe('runJanitor', () => {
  it('runs exactly one pass by default and throws its error', async () => {
    const seen: JanitorSummary[] = [];
    expect(await runJanitor({ pass: async () => summary(1), onSummary: (s) => seen.push(s), onError: () => {} })).toBe(1);
    expect(seen).toHaveLength(1);
    await expect(runJanitor({ pass: () => Promise.reject(new Error('db down')), onSummary: () => {}, onError: () => {} })).rejects.toThrow('db down');
  });

  it('in a loop, reports failed passes and goes on; an abort during a pass lets it finish', async () => {
    const stop = new AbortController();
    const errors: unknown[] = [];
    const finished: number[] = [];
    let n = 0;
    const passes = await runJanitor({
      loop: true,
      intervalMs: 1,
      signal: stop.signal,
      pass: async () => {
        n++;
        if (n === 2) throw new Error('transient');
        if (n === 3) stop.abort();
        await new Promise((r) => setImmediate(r));
        return summary(n);
      },
      onSummary: (s) => finished.push(s.cleanups.attempted),
      onError: (err) => errors.push(err),
    });
    expect(passes).toBe(3);
    expect(finished).toEqual([1, 3]);
    expect(errors).toHaveLength(1);
  });

  it('an abort during the pause ends the loop without another pass', async () => {
    const stop = new AbortController();
    let n = 0;
    const done = runJanitor({ loop: true, intervalMs: 60_000, signal: stop.signal, pass: async () => summary(++n), onSummary: () => stop.abort(), onError: () => {} });
    expect(await done).toBe(1);
  });
});

describe('formatSummaryLine', () => {
  it('names what the pass did', () => {
    const line = formatSummaryLine({ ...summary(2), cleanups: { attempted: 3, resolved: 2, failed: 1 }, orphanChunksDeleted: 4, orphanPrefixes: ['chunks/x/'] });
    expect(line).toContain('leftovers 2/3 removed (1 failed again)');
    expect(line).toContain('4 orphan chunks deleted in 1 prefixes');
    expect(formatSummaryLine({ ...summary(0), alerts: { attempted: 3, delivered: 2, failed: 1 } })).toContain('alerts 2/3 delivered');
    const retention = { outboxDelivered: 27, sagasPruned: 3, sagasForgotten: 1, historyRows: 90, operationsPruned: 1, held: 2 };
    expect(formatSummaryLine({ ...summary(0), retention })).toContain("retention: 27 delivered outbox rows, 3 sagas' history (90 rows), 1 operations pruned, 2 held");
    expect(formatSummaryLine(summary(0))).not.toContain('held');
  });
});
