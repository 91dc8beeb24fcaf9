// The producer as a real process: it refuses to start without INTERNAL_TOKEN, serves on HOST:PORT, never logs the
// token, and closes gracefully on SIGTERM.
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnProcess, stopAllProcesses } from '@ingest/testkit';
import { createTestEnv, REPO_ROOT, type TestEnv } from './support.ts';

const MAIN = path.join(REPO_ROOT, 'apps/producer/src/main.ts');

describe('producer process', () => {
  let t: TestEnv;

  beforeAll(async () => {
    t = await createTestEnv();
  });

  afterEach(async () => {
    expect(await stopAllProcesses()).toEqual([]);
  });

  afterAll(async () => {
    await t?.close();
  });

  it('refuses to start without INTERNAL_TOKEN, saying so', async () => {
    const proc = await spawnProcess(process.execPath, ['--import', 'tsx', MAIN], { cwd: REPO_ROOT, env: { ...t.env, INTERNAL_TOKEN: undefined }, name: 'producer-no-token' });
    expect((await proc.exited).code).toBe(1);
    expect(proc.output().join('\n')).toMatch(/producer: invalid configuration: INTERNAL_TOKEN: required by the producer/);
  });

  it('serves the API, keeps the token out of its logs, and exits 0 on SIGTERM', async () => {
    const proc = await spawnProcess(process.execPath, ['--import', 'tsx', MAIN], { cwd: REPO_ROOT, env: { ...t.env, PORT: '0', LOG_LEVEL: 'trace' }, name: 'producer' });
    const listening = await proc.waitForOutput(/"msg":"producer listening"/, 60_000);
    const { address } = JSON.parse(listening.line) as { address: string };
    expect((await fetch(`${address}/healthz`)).status).toBe(200);
    expect((await fetch(`${address}/v1/stats`, { headers: { 'x-internal-token': t.token } })).status).toBe(200);
    expect((await fetch(`${address}/v1/stats`, { headers: { 'x-internal-token': 'wrong' } })).status).toBe(401);

    proc.kill('SIGTERM');
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    const output = proc.output();
    expect(output.join('\n')).toMatch(/"msg":"producer stopped"/);
    expect(output.filter((l) => l.includes(t.token))).toEqual([]);
  });
});
