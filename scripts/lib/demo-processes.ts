// The processes of a demo: apps started from source as real children, their health waited for, all stopped at the end.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout the demos run from. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers 2xx. */
export async function waitHealthy(url: string, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${what} did not become healthy at ${url} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The child's exit code, once it has exited. */
export function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code ?? 1));
  });
}

/** Starts and stops one demo's children; a child that fails prints its last lines under `tag`. */
export function demoProcesses(tag: string): {
  start(name: string, script: string, env: NodeJS.ProcessEnv, args?: string[], inherit?: boolean): ChildProcess;
  stopAll(): Promise<void>;
} {
  const children: ChildProcess[] = [];
  return {
    start(name, script, env, args = [], inherit = false) {
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, script), ...args], {
        cwd: ROOT,
        env,
        stdio: inherit ? ['ignore', 'pipe', 'inherit'] : ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      if (!inherit) {
        const keep: string[] = [];
        const onLine = (d: Buffer) => {
          keep.push(d.toString());
          if (keep.length > 50) keep.shift();
        };
        child.stdout?.on('data', onLine);
        child.stderr?.on('data', onLine);
        child.once('exit', (code, signal) => {
          if (code !== 0 && signal === null) process.stderr.write(`[${tag}] ${name} exited with ${code}:\n${keep.join('')}\n`);
        });
      }
      return child;
    },
    async stopAll() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
      await Promise.all(children.map((c) => Promise.race([exited(c), new Promise((r) => setTimeout(r, 10_000))])));
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    },
  };
}
