// A separate set of Redis, PostgreSQL and s3rver (own data directory and ports) for a soak or a test that restarts
// services, started and restarted
// through infra/services.sh, paused with SIGSTOP/SIGCONT. Only processes of this set are ever signalled: their pids
// come from this set's own pid files.
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { waitFor } from './wait-for.ts';

/** A service of the set. */
export type ServiceName = 'redis' | 'postgres' | 's3';
/** Every service, in start order. */
export const SERVICES: readonly ServiceName[] = ['redis', 'postgres', 's3'];

/** Where the set lives. */
export interface ServiceSetOptions {
  /** The repository root (infra/services.sh is under it). */
  root: string;
  /** SERVICES_DIR: the set's data directory. */
  dir: string;
  ports: Record<ServiceName, number>;
}

/** The running set. */
export interface ServiceSet {
  /** REDIS_URL, DATABASE_URL, S3_* as services.sh printed them. */
  readonly env: Record<string, string>;
  /** Starts whatever is not running (services.sh --env). */
  start(): Promise<Record<string, string>>;
  /** SIGSTOPs the service (PostgreSQL: the postmaster and every backend). */
  pause(name: ServiceName): Promise<void>;
  /** SIGCONTs what pause() stopped. */
  resume(name: ServiceName): Promise<void>;
  /** Stops one service with its own graceful signal and waits until its port is closed; start() brings it back. */
  stop(name: ServiceName): Promise<void>;
  /** Stops one service, keeps it down for `downtimeMs`, then starts it through the script. */
  restart(name: ServiceName, downtimeMs?: number): Promise<void>;
  /** services.sh --stop for this set. */
  stopAll(): Promise<void>;
  paused(): ServiceName[];
}

/** Creates the handle; nothing runs until start(). */
export function createServiceSet(options: ServiceSetOptions): ServiceSet {
  const script = path.join(options.root, 'infra/services.sh');
  const scriptEnv = {
    ...process.env,
    // services.sh starts s3rver with `node`: make it this (supported) Node.
    PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}`,
    SERVICES_DIR: options.dir,
    SERVICES_REDIS_PORT: String(options.ports.redis),
    SERVICES_PG_PORT: String(options.ports.postgres),
    SERVICES_S3_PORT: String(options.ports.s3),
  };
  const stopped = new Map<ServiceName, number[]>();
  let env: Record<string, string> = {};

  const run = (args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile('bash', [script, ...args], { env: scriptEnv, timeout: 180_000, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`services.sh ${args.join(' ')} failed: ${err.message}\n${stderr}`));
        else resolve(stdout);
      });
    });

  const pidOf = async (name: ServiceName): Promise<number> => {
    // PostgreSQL's data directory is outside the set's (see services.sh): the set names it in pg-data-dir.
    const file =
      name === 'postgres'
        ? path.join((await readFile(path.join(options.dir, 'pg-data-dir'), 'utf8')).trim(), 'postmaster.pid')
        : path.join(options.dir, name === 'redis' ? 'redis/redis.pid' : 's3.pid');
    const text = await readFile(file, 'utf8');
    const pid = Number(text.split('\n')[0]?.trim());
    if (!Number.isInteger(pid) || pid <= 1) throw new Error(`no pid for ${name} in ${file}`);
    return pid;
  };

  const set: ServiceSet = {
    get env() {
      return env;
    },
    async start() {
      const out = await run(['--env']);
      const parsed: Record<string, string> = {};
      for (const line of out.split('\n')) {
        const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
        if (m?.[1] && m[2] !== undefined) parsed[m[1]] = m[2];
      }
      env = parsed;
      return parsed;
    },
    async pause(name) {
      if (stopped.has(name)) return;
      const pid = await pidOf(name);
      const pids = name === 'postgres' ? [pid, ...(await childrenOf(pid))] : [pid];
      for (const p of pids) signal(p, 'SIGSTOP');
      stopped.set(name, pids);
    },
    async resume(name) {
      const pids = stopped.get(name);
      stopped.delete(name);
      if (!pids) return;
      // Backends forked just before the stop are children too: continue whatever belongs to the postmaster now.
      const all = new Set(pids);
      if (name === 'postgres' && pids[0] !== undefined) for (const c of await childrenOf(pids[0])) all.add(c);
      for (const p of all) signal(p, 'SIGCONT');
    },
    async stop(name) {
      await set.resume(name);
      const pid = await pidOf(name);
      // Graceful for each: Redis SIGTERM (AOF flushed), PostgreSQL SIGINT (fast shutdown, checkpoint), s3rver SIGTERM.
      signal(pid, name === 'postgres' ? 'SIGINT' : 'SIGTERM');
      await waitFor(() => !alive(pid), { timeoutMs: 60_000, intervalMs: 100, what: `${name} (pid ${pid}) to stop` });
      await waitFor(async () => !(await portOpen(options.ports[name])), { timeoutMs: 30_000, intervalMs: 100, what: `${name}'s port to close` });
    },
    async restart(name, downtimeMs = 0) {
      await set.stop(name);
      // An outage, not a blip: long enough, at times, to outlast the retries of whatever was using the service.
      if (downtimeMs > 0) await new Promise((r) => setTimeout(r, downtimeMs));
      await set.start();
    },
    async stopAll() {
      for (const name of [...stopped.keys()]) await set.resume(name);
      await run(['--stop']);
    },
    paused: () => [...stopped.keys()],
  };
  return set;
}

/** Whether something accepts connections on 127.0.0.1:port. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(1000, () => done(false));
  });
}

async function childrenOf(parent: number): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Field 4 (ppid) follows the command name, which is in parentheses and may itself contain spaces.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === parent) out.push(Number(entry));
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
