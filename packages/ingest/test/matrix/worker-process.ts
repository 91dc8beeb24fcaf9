// The worker app as a real child process on a matrix world (its settings, fault points and queue prefix), so
// that a crash is a SIGKILL of a process group, not a simulation.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnProcess, type TestProcess } from '@ingest/testkit';
import type { MatrixWorld, Settings } from './world.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const WORKER_MAIN = path.join(ROOT, 'apps/worker/src/main.ts');

/** Starts `apps/worker` and waits for its "worker ready" line; `asUid` runs it as that user (setpriv), not as root. */
export async function startWorkerProcess(w: MatrixWorld, name: string, overrides: Settings = {}, asUid?: number): Promise<TestProcess> {
  const env = w.env({ METRICS_PORT: '0', LOG_LEVEL: 'info', ...overrides });
  const node = [process.execPath, '--import', 'tsx', WORKER_MAIN];
  const proc =
    asUid === undefined
      ? await spawnProcess(node[0]!, node.slice(1), { cwd: ROOT, env, name })
      : await spawnProcess('setpriv', [`--reuid=${asUid}`, `--regid=${asUid}`, '--clear-groups', '--', ...node], { cwd: ROOT, env, name });
  await proc.waitForOutput(/"msg":"worker ready"/, 90_000);
  return proc;
}

/** SIGKILLs the worker's whole process group and waits until it is gone. */
export async function crash(proc: TestProcess): Promise<void> {
  proc.kill('SIGKILL');
  const exit = await proc.exited;
  if (exit.signal !== 'SIGKILL') throw new Error(`${proc.name} ended with ${JSON.stringify(exit)} instead of being killed`);
}
