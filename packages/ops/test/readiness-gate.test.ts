// The readiness gate's state machine, driven by a scripted probe: ready at the first pass, THRESHOLD failures in a row
// to turn not ready (one blip is tolerated), THRESHOLD passes in a row to come back, one log line and one onChange per
// transition. Each step waits for the gate's own probe count, never for time.
import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { startReadinessGate, type ProbeReport } from '../src/index.ts';

const ok: ProbeReport = { ok: true, checks: { s3: 'ok' } };
const down: ProbeReport = { ok: false, checks: { s3: 'connect ECONNREFUSED' } };

describe('readiness gate', () => {
  it('turns ready at once, tolerates one failed probe, turns not ready after two, ready again after two passes', async () => {
    // The script: what each probe answers, and what state the gate must report right after it.
    const script: [ProbeReport, boolean][] = [
      [down, false], // not ready before any pass
      [ok, true], // the first pass: ready at once
      [down, true], // one blip: still ready
      [ok, true],
      [down, true],
      [down, false], // two in a row: not ready
      [ok, false], // one pass: still not ready
      [down, false],
      [ok, false],
      [ok, true], // two in a row: ready again
    ];
    const seen: boolean[] = [];
    const changes: boolean[] = [];
    const lines: string[] = [];
    const registry = new Registry();
    let i = 0;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const gate = startReadinessGate({
      intervalMs: 1,
      threshold: 2,
      logger,
      registry,
      onChange: (ready) => void changes.push(ready),
      probe: async () => {
        // Record the state the previous probe left, then answer the next scripted result.
        if (i > 0) seen.push(gate.state().ready);
        if (i === script.length) {
          done();
          return ok;
        }
        return script[i++]![0];
      },
    });
    await finished;
    await gate.stop();
    expect(seen).toEqual(script.map(([, ready]) => ready));
    expect(changes).toEqual([true, false, true]);
    expect(lines.filter((l) => l.includes('"msg":"not ready')).length).toBe(1);
    expect(lines.filter((l) => l.includes('"msg":"ready: every dependency answers"')).length).toBe(2);
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/ingest_readiness_probes_total\{result="fail"\} 5/);
    expect(metrics).toMatch(/ingest_readiness_check_ok\{check="s3"\} 1/);
    expect(metrics).toMatch(/^ingest_ready 1$/m);
  });

  it('a probe that throws counts as failing, naming the error', async () => {
    let calls = 0;
    let reached!: () => void;
    const twice = new Promise<void>((resolve) => (reached = resolve));
    const gate = startReadinessGate({
      intervalMs: 1,
      threshold: 1,
      logger: pino({ level: 'silent' }),
      probe: async () => {
        if (++calls === 2) reached();
        throw new Error('boom');
      },
    });
    await twice;
    await gate.stop();
    expect(gate.state()).toMatchObject({ ready: false, checks: { probe: 'boom' } });
  });
});
