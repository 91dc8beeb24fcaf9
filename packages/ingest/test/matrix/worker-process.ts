// The worker app as a real child process on a matrix world (its settings, fault points and queue prefix), so
// that a crash is a SIGKILL of a process group, not a simulation.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnProcess, type TestProcess } from '@ingest/testkit';
import type { MatrixWorld, Settings } from './world.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const WORKER_MAIN = path.join(ROOT, 'apps/worker/src/main.ts');

/**
 * Starts `apps/worker` and waits for its "worker ready" line. `bound` runs it as root without the capabilities that
 * bypass file permissions (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so modes apply to it as to an unprivileged pod's
 * process, while it can still read a private checkout it owns (another user could not even load the code there).
 */
export async function startWorkerProcess(w: MatrixWorld, name: string, overrides: Settings = {}, bound = false): Promise<TestProcess> {
  const env = w.env({ METRICS_PORT: '0', LOG_LEVEL: 'info', ...overrides });
  const node = [process.execPath, '--import', 'tsx', WORKER_MAIN];
  const drop = '-dac_override,-dac_read_search';
  const proc = bound
    ? await spawnProcess('setpriv', [`--inh-caps=${drop}`, `--bounding-set=${drop}`, '--', ...node], { cwd: ROOT, env, name })
    : await spawnProcess(node[0]!, node.slice(1), { cwd: ROOT, env, name });
  await proc.waitForOutput(/"msg":"worker ready"/, 90_000);
  return proc;
}

/** SIGKILLs the worker's whole process group and waits until it is gone. */
export async function crash(proc: TestProcess): Promise<void> {
  proc.kill('SIGKILL');
  const exit = await proc.exited;
  if (exit.signal !== 'SIGKILL') throw new Error(`${proc.name} ended with ${JSON.stringify(exit)} instead of being killed`);
}
