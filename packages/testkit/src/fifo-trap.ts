// A FIFO with a writer process blocked in open() until some reader opens it: while the writer still waits, nobody
// has opened the FIFO, not even without reading. Security tests point swapped-in paths at one to prove a file
// outside SOURCE_ROOT was never opened.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { waitFor } from './wait-for.ts';

/** A FIFO and its waiting writer. */
export interface FifoTrap {
  /** Absolute path of the FIFO. */
  path: string;
  /** The writer's process id. */
  pid: number;
  /** Whether anyone opened the FIFO for reading (the writer left its wait). */
  opened(): Promise<boolean>;
  /** Kills the writer and removes the FIFO. */
  close(): Promise<void>;
}

/** Creates the FIFO at `file` and a writer waiting on it. */
export async function createFifoTrap(file: string): Promise<FifoTrap> {
  execFileSync('mkfifo', [file]);
  const writer: ChildProcess = spawn('sh', ['-c', 'exec 3>"$1"; echo opened; sleep 3600', 'sh', file], { stdio: ['ignore', 'pipe', 'ignore'] });
  const pid = writer.pid;
  if (pid === undefined) throw new Error(`could not start a writer for ${file}`);
  const waiting = async (): Promise<boolean> => (await readFile(`/proc/${pid}/wchan`, 'utf8').catch(() => '')).trim() === 'wait_for_partner';
  await waitFor(waiting, { timeoutMs: 10_000, intervalMs: 10, what: `the writer of ${file} to wait in open()` });
  return {
    path: file,
    pid,
    async opened() {
      return !(await waiting());
    },
    async close() {
      writer.kill('SIGKILL');
      await rm(file, { force: true });
    },
  };
}
