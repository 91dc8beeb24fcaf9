// The worker processes of the soak, supervised like a Deployment: a worker that dies (SIGKILLed by the chaos, or
// exiting because a service was down at its start) is started again after a short pause, until stop().
import path from 'node:path';
import { spawnProcess, type TestProcess } from '@ingest/testkit';
import { log } from './log.ts';
import type { Random } from './random.ts';

/** Options of createWorkerFleet. */
export interface WorkerFleetOptions {
  root: string;
  size: number;
  env: Record<string, string>;
  random: Random;
}

/** The supervised fleet. */
export interface WorkerFleet {
  start(): Promise<void>;
  /** SIGKILLs one running worker's process group; returns its name, or null when none runs. */
  killOne(): string | null;
  /** How many workers run now. */
  running(): number;
  /** Waits (bounded) until every slot runs a worker. */
  ensureRunning(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
  readonly counts: { started: number; killed: number; exitedOnTheirOwn: number };
}

/** Creates the fleet; nothing runs until start(). */
export function createWorkerFleet(options: WorkerFleetOptions): WorkerFleet {
  const main = path.join(options.root, 'apps/worker/src/main.ts');
  const slots: (TestProcess | null)[] = Array.from({ length: options.size }, () => null);
  const killedByUs = new Set<number>();
  const counts = { started: 0, killed: 0, exitedOnTheirOwn: 0 };
  let stopping = false;
  const timers = new Set<NodeJS.Timeout>();

  const launch = async (slot: number): Promise<void> => {
    if (stopping) return;
    const name = `worker-${slot + 1}`;
    const proc = await spawnProcess(process.execPath, ['--import', 'tsx', main], {
      cwd: options.root,
      env: { ...options.env, METRICS_PORT: '0' },
      name,
      maxLines: 200,
    });
    counts.started += 1;
    slots[slot] = proc;
    void proc.exited.then((exit) => {
      if (slots[slot] === proc) slots[slot] = null;
      const expected = killedByUs.delete(proc.pid) || stopping;
      if (!expected) {
        counts.exitedOnTheirOwn += 1;
        log(`${name} exited on its own (${JSON.stringify(exit)}): ${proc.output().slice(-2).join(' | ').slice(0, 300)}`);
      }
      if (stopping) return;
      // Restarted after a pause, as an orchestrator would.
      const t = setTimeout(() => {
        timers.delete(t);
        launch(slot).catch((err: unknown) => log(`could not restart ${name}: ${String(err)}`));
      }, options.random.int(1000, 4000));
      timers.add(t);
    });
  };

  return {
    counts,
    async start() {
      for (let i = 0; i < slots.length; i++) await launch(i);
    },
    killOne() {
      const live = slots.filter((p): p is TestProcess => p !== null);
      if (live.length === 0) return null;
      const victim = options.random.pick(live);
      killedByUs.add(victim.pid);
      counts.killed += 1;
      victim.kill('SIGKILL');
      return victim.name;
    },
    running: () => slots.filter((p) => p !== null).length,
    async ensureRunning(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      // Bounded: slots refill on their own after a pause; this only waits for them.
      while (slots.some((p) => p === null) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    },
    async stop() {
      stopping = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const live = slots.filter((p): p is TestProcess => p !== null);
      for (const p of live) p.kill('SIGTERM');
      await Promise.all(
        live.map(async (p) => {
          const grace = setTimeout(() => p.kill('SIGKILL'), 20_000);
          await p.exited;
          clearTimeout(grace);
        }),
      );
    },
  };
}
