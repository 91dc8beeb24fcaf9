import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { peakRssBytes, spawnProcess, stopAllProcesses, waitFor } from '../src/index.ts';

const node = process.execPath;

/** Whether a pid names a live process (signal 0 checks without signalling). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('spawnProcess', () => {
  afterEach(async () => {
    await stopAllProcesses(1_000);
  });

  it('waits for a line of output, and reports a SIGKILL', async () => {
    const p = await spawnProcess(node, ['-e', 'console.log("ready " + process.pid); setInterval(() => {}, 1000)'], { name: 'sleeper' });
    const { match } = await p.waitForOutput(/ready (\d+)/, 10_000);
    expect(Number(match[1])).toBe(p.pid);
    p.kill('SIGKILL');
    await expect(p.exited).resolves.toEqual({ code: null, signal: 'SIGKILL' });
    expect(await stopAllProcesses()).toEqual([]);
  });

  it('reads stderr too, reports the exit code, and stops waiting when output ends', async () => {
    const p = await spawnProcess(node, ['-e', 'console.error("boom"); process.exit(3)']);
    await expect(p.waitForOutput(/boom/, 10_000)).resolves.toMatchObject({ line: 'boom', index: 0 });
    await expect(p.exited).resolves.toEqual({ code: 3, signal: null });
    // Well inside the timeout: the output is over, so the line can never come.
    const started = Date.now();
    await expect(p.waitForOutput(/never printed/, 20_000)).rejects.toThrow(/ended its output/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('times out a wait with the recent output in the error', async () => {
    const p = await spawnProcess(node, ['-e', 'console.log("hello"); setInterval(() => {}, 1000)'], { name: 'quiet' });
    await p.waitForOutput(/hello/);
    await expect(p.waitForOutput(/never/, 200)).rejects.toThrow(/within 200 ms[\s\S]*hello/);
  });

  it('keeps a bounded ring of lines and can wait for a later match', async () => {
    const script = 'for (let i = 0; i < 20; i++) console.log("line " + i); setInterval(() => {}, 1000)';
    const p = await spawnProcess(node, ['-e', script], { maxLines: 5 });
    await p.waitForOutput(/line 19/);
    expect(p.output()).toEqual(['line 15', 'line 16', 'line 17', 'line 18', 'line 19']);
    const first = await p.waitForOutput(/line 1\d/);
    const later = await p.waitForOutput(/line 1\d/, 1_000, { after: first.index });
    expect([first.line, later.line]).toEqual(['line 15', 'line 16']);
  });

  it('merges env over the parent environment', async () => {
    const p = await spawnProcess(node, ['-e', 'console.log(process.env.TESTKIT_FLAG + " " + typeof process.env.PATH)'], {
      env: { TESTKIT_FLAG: 'on' },
    });
    await expect(p.waitForOutput(/^on string$/)).resolves.toBeDefined();
  });

  it('rejects a command that cannot start', async () => {
    await expect(spawnProcess('/nonexistent/testkit-binary', [])).rejects.toThrow(/could not start/);
  });
});

describe('stopAllProcesses', () => {
  it('names what was left running and SIGKILLs survivors with their children', async () => {
    // Ignores SIGTERM, and starts a grandchild in the same process group, as tsx or npx would.
    const script = `
      process.on('SIGTERM', () => console.log('ignoring SIGTERM'));
      const c = require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      console.log('grandchild ' + c.pid);
      setInterval(() => {}, 1000);`;
    const stubborn = await spawnProcess(node, ['-e', script], { name: 'stubborn' });
    const polite = await spawnProcess(node, ['-e', 'setInterval(() => {}, 1000)'], { name: 'polite' });
    const { match } = await stubborn.waitForOutput(/grandchild (\d+)/);
    const grandchild = Number(match[1]);
    expect(isAlive(grandchild)).toBe(true);

    const leaked = await stopAllProcesses(500);
    expect(leaked.sort()).toEqual(['polite', 'stubborn']);
    await expect(polite.exited).resolves.toEqual({ code: null, signal: 'SIGTERM' });
    await expect(stubborn.exited).resolves.toEqual({ code: null, signal: 'SIGKILL' });
    expect(stubborn.output()).toContain('ignoring SIGTERM');
    // Killed with its group; only reaped once init gets to it, hence the poll.
    await waitFor(() => !isAlive(grandchild) || isZombie(grandchild), { timeoutMs: 5_000, intervalMs: 20, what: 'the grandchild to die' });
    expect(await stopAllProcesses()).toEqual([]);
  });
});

describe('peakRssBytes', () => {
  it('reads the peak resident memory of a running process', async () => {
    const script = 'const b = Buffer.alloc(200 * 1024 * 1024); b.fill(1); console.log("filled"); setInterval(() => {}, 1000)';
    const big = await spawnProcess(node, ['-e', script]);
    const small = await spawnProcess(node, ['-e', 'console.log("up"); setInterval(() => {}, 1000)']);
    await Promise.all([big.waitForOutput(/filled/), small.waitForOutput(/up/)]);
    const [bigPeak, smallPeak] = await Promise.all([peakRssBytes(big.pid), peakRssBytes(small.pid)]);
    expect(bigPeak).toBeGreaterThanOrEqual(200 * 1024 * 1024);
    expect(smallPeak).toBeLessThan(bigPeak - 150 * 1024 * 1024);
    await stopAllProcesses();
  });
});

// A dead process whose parent has not reaped it yet still answers signal 0.
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}
