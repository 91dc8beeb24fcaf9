// Real child processes for tests: spawn, wait for a line of output, signal, measure, and make sure none
// outlives its test.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';

/** Options for spawnProcess. */
export interface SpawnProcessOptions {
  /** Variables merged over process.env (undefined removes one). Default: process.env unchanged. */
  env?: Record<string, string | undefined>;
  /** Working directory. Default: the current one. */
  cwd?: string;
  /** Names the process in errors and in stopAllProcesses()'s answer. Default: the command. */
  name?: string;
  /** Recent output lines kept (stdout and stderr together). Default 1000. */
  maxLines?: number;
}

/** How a process ended: an exit code, or the signal that killed it. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A line that matched waitForOutput's pattern. */
export interface OutputMatch {
  line: string;
  match: RegExpExecArray;
  /** The line's number in the whole output (from 0), to wait for a later line with `after`. */
  index: number;
}

/** A running child process. */
export interface TestProcess {
  name: string;
  pid: number;
  /** Settles when the process exits; never rejects. */
  exited: Promise<ProcessExit>;
  /** Resolves with the first line (stdout or stderr) matching `pattern`, including lines already printed
   * and still kept; rejects on timeout or when the output ends first. Default timeout 30 000 ms. */
  waitForOutput(pattern: RegExp, timeoutMs?: number, options?: { after?: number }): Promise<OutputMatch>;
  /** Sends a signal (default SIGTERM) to the process; SIGKILL goes to its whole process group. */
  kill(signal?: NodeJS.Signals): void;
  /** The recent output lines, oldest first. */
  output(): string[];
}

interface Line {
  index: number;
  text: string;
}

interface Waiter {
  pattern: RegExp;
  after: number;
  resolve: (m: OutputMatch) => void;
  reject: (err: Error) => void;
}

interface Entry {
  handle: TestProcess;
  running: () => boolean;
}

// A line with no newline in sight is cut here, so one chatty process cannot hold unbounded memory.
const MAX_LINE_CHARS = 64 * 1024;
const registry = new Set<Entry>();
let exitHookInstalled = false;

/** Starts `command` in its own process group, with stdout and stderr captured as lines. */
export async function spawnProcess(command: string, args: readonly string[] = [], options: SpawnProcessOptions = {}): Promise<TestProcess> {
  const { cwd, name = command, maxLines = 1000 } = options;
  const env = { ...process.env, ...options.env };
  // Own group: a wrapper (tsx, npx) and its children can be killed together, so none is orphaned.
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) => reject(new Error(`could not start ${name}: ${err.message}`, { cause: err })));
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${name}: no pid`);
  installExitHook();

  const lines: Line[] = [];
  let lineCount = 0;
  let outputEnded = false;
  const waiters = new Set<Waiter>();

  const offer = (waiter: Waiter, line: Line): boolean => {
    if (line.index <= waiter.after) return false;
    const match = waiter.pattern.exec(line.text);
    if (!match) return false;
    waiters.delete(waiter);
    waiter.resolve({ line: line.text, match, index: line.index });
    return true;
  };
  const push = (text: string): void => {
    const line = { index: lineCount++, text };
    lines.push(line);
    if (lines.length > maxLines) lines.shift();
    for (const w of [...waiters]) offer(w, line);
  };
  splitLines(child.stdout, push);
  splitLines(child.stderr, push);

  let running = true;
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
  });
  // 'close' comes after the last output line, so a waiter can be told the line will never come.
  child.once('close', () => {
    outputEnded = true;
    for (const w of [...waiters]) {
      waiters.delete(w);
      w.reject(new Error(`${name} (pid ${pid}) ended its output before a line matched ${w.pattern}\n${tail(lines)}`));
    }
  });

  const handle: TestProcess = {
    name,
    pid,
    exited,
    waitForOutput(pattern, timeoutMs = 30_000, { after = -1 } = {}) {
      const waiter: Waiter = { pattern: withoutState(pattern), after, resolve: () => {}, reject: () => {} };
      return new Promise<OutputMatch>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`${name} (pid ${pid}) printed no line matching ${pattern} within ${timeoutMs} ms\n${tail(lines)}`));
        }, timeoutMs);
        waiter.resolve = (m) => {
          clearTimeout(timer);
          resolve(m);
        };
        waiter.reject = (err) => {
          clearTimeout(timer);
          reject(err);
        };
        waiters.add(waiter);
        for (const line of lines) if (offer(waiter, line)) return;
        if (outputEnded) waiter.reject(new Error(`${name} (pid ${pid}) has ended its output; no line matched ${pattern}\n${tail(lines)}`));
      });
    },
    kill(signal = 'SIGTERM') {
      if (signal === 'SIGKILL') killGroup(pid, running);
      else if (running) child.kill(signal);
    },
    output: () => lines.map((l) => l.text),
  };
  registry.add({ handle, running: () => running });
  return handle;
}

/**
 * For afterEach/afterAll: SIGTERMs every process spawned since the last call, SIGKILLs the process groups
 * of those still alive after `graceMs` (and any orphans of exited ones), and returns the names of the
 * processes that were still running when called, so a test can assert it cleaned up after itself.
 */
export async function stopAllProcesses(graceMs = 5_000): Promise<string[]> {
  const entries = [...registry];
  registry.clear();
  const leaked = entries.filter((e) => e.running()).map((e) => e.handle.name);
  for (const e of entries) if (e.running()) e.handle.kill('SIGTERM');
  await Promise.all(
    entries.map(async (e) => {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([e.handle.exited, grace]);
      clearTimeout(timer);
      killGroup(e.handle.pid, e.running());
      await e.handle.exited;
    }),
  );
  return leaked;
}

/** The peak resident set size (VmHWM) of a running process, in bytes; Linux only. */
export async function peakRssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status);
  if (!m?.[1]) throw new Error(`no VmHWM for pid ${pid} (has it exited?)`);
  return Number(m[1]) * 1024;
}

/** SIGKILLs a process group, unless its leader is gone and its pid already belongs to someone else. */
function killGroup(pid: number, leaderRunning: boolean): void {
  // Linux keeps a pid unallocated while a group of that id has members, so a live `pid` after our
  // leader exited is a stranger, and an empty group just answers ESRCH.
  if (!leaderRunning && isAlive(pid)) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Last resort when the test runner exits without cleaning up: no process group survives it. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const e of registry) if (e.running()) killGroup(e.handle.pid, true);
  });
}

function splitLines(stream: Readable, push: (line: string) => void): void {
  // Decoding in the stream keeps multi-byte characters split across chunks intact.
  stream.setEncoding('utf8');
  let partial = '';
  stream.on('data', (chunk: string) => {
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf('\n')) !== -1) {
      push(partial.slice(0, nl).replace(/\r$/, ''));
      partial = partial.slice(nl + 1);
    }
    while (partial.length > MAX_LINE_CHARS) {
      push(partial.slice(0, MAX_LINE_CHARS));
      partial = partial.slice(MAX_LINE_CHARS);
    }
  });
  stream.on('end', () => {
    if (partial) push(partial);
    partial = '';
  });
}

// exec() on a /g or /y pattern depends on lastIndex; a copy without them matches each line afresh.
function withoutState(pattern: RegExp): RegExp {
  return pattern.global || pattern.sticky ? new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, '')) : pattern;
}

function tail(lines: readonly Line[], n = 20): string {
  return lines.slice(-n).map((l) => `  | ${l.text}`).join('\n');
}
