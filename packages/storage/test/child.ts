// Runs a fixture script as a real child process (Node with tsx) and hands its JSON output lines to the test.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';

/** A running fixture: its process, the events it printed so far, and a way to wait for one. */
export interface Child {
  process: ChildProcess;
  events: Array<Record<string, unknown>>;
  /** Resolves with the first event (already printed or future) that satisfies `match`; rejects if the child exits first. */
  waitForEvent(match: (e: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** Resolves with the exit code or signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

/** Starts test/fixtures/<name>.ts with one JSON argument; `nodeFlags` go before the script (e.g. V8 heap sizing). */
export function startChild(name: string, input: unknown, nodeFlags: readonly string[] = []): Child {
  const script = path.join(import.meta.dirname, 'fixtures', `${name}.ts`);
  const proc = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', script, JSON.stringify(input)], {
    cwd: path.resolve(import.meta.dirname, '../../..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: Array<Record<string, unknown>> = [];
  const waiters: Array<{ match: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }> = [];
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-8000);
  });
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    events.push(event);
    for (const w of [...waiters]) {
      if (w.match(event)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(event);
      }
    }
  });
  const exited = once(proc, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  return {
    process: proc,
    events,
    exited,
    stderr: () => err,
    waitForEvent(match) {
      const seen = events.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve });
        void exited.then((how) => reject(new Error(`child exited (${how.code ?? how.signal}) before the event; stderr: ${err}`)));
      });
    },
  };
}
