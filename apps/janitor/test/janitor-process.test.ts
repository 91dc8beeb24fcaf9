// The janitor as a real process: one pass prints a summary line and the JSON summary and exits 0; two at once do
// no harm; --loop keeps passing until SIGTERM, which ends it after the current pass with exit 0.
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JanitorSummary } from '@ingest/ingest';
import { spawnProcess, stopAllProcesses, type TestProcess } from '@ingest/testkit';
import { createTestEnv, REPO_ROOT, type TestEnv } from './support.ts';

const MAIN = path.join(REPO_ROOT, 'apps/janitor/src/main.ts');

describe('janitor process', () => {
  let t: TestEnv;

  beforeAll(async () => {
    t = await createTestEnv();
    // Migrations run once here, so that the concurrent janitors below race only on their passes.
    await t.runtime();
  });

  afterEach(async () => {
    expect(await stopAllProcesses()).toEqual([]);
  });

  afterAll(async () => {
    await t?.close();
  });

  const janitor = (args: string[] = [], env: Record<string, string> = {}): Promise<TestProcess> =>
    spawnProcess(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: REPO_ROOT, env: { ...t.env, ...env }, name: `janitor ${args.join(' ')}` });

  function summaries(proc: TestProcess): JanitorSummary[] {
    // Each pass prints its summary line, then the JSON summary on the next line.
    const lines = proc.output();
    return lines.flatMap((l, i) => (l.startsWith('janitor pass: ') ? [JSON.parse(lines[i + 1] ?? '') as JanitorSummary] : []));
  }

  it('runs one pass, prints a summary line and the JSON summary, and exits 0', async () => {
    const proc = await janitor();
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    const lines = proc.output();
    const at = lines.findIndex((l) => l.startsWith('janitor pass: '));
    expect(at).toBeGreaterThanOrEqual(0);
    const json = JSON.parse(lines[at + 1] ?? '') as JanitorSummary;
    expect(json).toMatchObject({ cleanups: { attempted: 0, resolved: 0, failed: 0 }, relayed: 0, rolledBackOverdue: 0, durationMs: expect.any(Number) });
  });

  it('two janitors at once both finish cleanly', async () => {
    const [a, b] = await Promise.all([janitor(), janitor()]);
    const exits = await Promise.all([a.exited, b.exited]);
    expect(exits).toEqual([
      { code: 0, signal: null },
      { code: 0, signal: null },
    ]);
    expect(summaries(a)).toHaveLength(1);
    expect(summaries(b)).toHaveLength(1);
  });

  it('--loop passes every interval until SIGTERM, then exits 0 after the current pass', async () => {
    const proc = await janitor(['--loop', '--interval-seconds', '1']);
    const first = await proc.waitForOutput(/^janitor pass: /, 60_000);
    await proc.waitForOutput(/^janitor pass: /, 30_000, { after: first.index });
    proc.kill('SIGTERM');
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    expect(summaries(proc).length).toBeGreaterThanOrEqual(2);
    expect(proc.output().join('\n')).toMatch(/janitor stopping after the current pass/);
  });

  it('a bad option exits 2 and a bad configuration exits 1 naming the variable', async () => {
    const badOption = await janitor(['--interval-seconds', '0']);
    expect((await badOption.exited).code).toBe(2);
    expect(badOption.output().join('\n')).toMatch(/interval-seconds/);
    const badConfig = await janitor([], { REDIS_URL: 'not a url' });
    expect((await badConfig.exited).code).toBe(1);
    expect(badConfig.output().join('\n')).toMatch(/janitor: invalid configuration: REDIS_URL/);
  });
});
