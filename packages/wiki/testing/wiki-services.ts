// The two wiki services as real processes for tests: started from their sources with tsx on their own ports,
// stoppable and restartable on the same port (a service that is down, then back).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDebianTool, spawnProcess, type TestProcess } from '@ingest/testkit';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** One running service. */
export interface ServiceProcess {
  url: string;
  port: number;
  process: TestProcess;
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  restart(env?: Record<string, string>): Promise<void>;
}

/** Both services over one temporary root. */
export interface WikiServices {
  filesRoot: string;
  reposRoot: string;
  token: string;
  filesystem: ServiceProcess;
  git: ServiceProcess;
  stop(): Promise<void>;
}

/** Starts both services (git installed first when missing) with `token`. */
export async function startWikiServices(options: { token: string; gitEnv?: Record<string, string> }): Promise<WikiServices> {
  await ensureDebianTool('git', 'git');
  const dir = await mkdtemp(path.join(tmpdir(), 'wiki-services-'));
  const filesRoot = path.join(dir, 'files');
  const reposRoot = path.join(dir, 'repos');
  const common = { WIKI_SERVICE_TOKEN: options.token, LOG_LEVEL: 'warn' };
  const filesystem = await startService('filesystem-service', { ...common, FILESYSTEM_SERVICE_ROOT: filesRoot, FILESYSTEM_SERVICE_PORT: '0' }, 'FILESYSTEM_SERVICE_PORT');
  const git = await startService('git-service', { ...common, GIT_SERVICE_FILES_ROOT: filesRoot, GIT_SERVICE_REPOS_ROOT: reposRoot, GIT_SERVICE_PORT: '0', ...options.gitEnv }, 'GIT_SERVICE_PORT');
  return {
    filesRoot,
    reposRoot,
    token: options.token,
    filesystem,
    git,
    async stop() {
      await filesystem.stop();
      await git.stop();
    },
  };
}

async function startService(app: string, env: Record<string, string>, portVar: string): Promise<ServiceProcess> {
  let currentEnv = { ...env, LOG_LEVEL: 'info' };
  const launch = async () => {
    const p = await spawnProcess(process.execPath, ['--import', 'tsx', path.join(ROOT, 'apps', app, 'src', 'main.ts')], { cwd: ROOT, env: currentEnv, name: app });
    const m = await p.waitForOutput(/"address":"http:\/\/127\.0\.0\.1:(\d+)"/, 60_000);
    return { p, port: Number(m.match[1]) };
  };
  const first = await launch();
  const svc: ServiceProcess = {
    url: `http://127.0.0.1:${first.port}`,
    port: first.port,
    process: first.p,
    async stop() {
      svc.process.kill('SIGKILL');
      await svc.process.exited;
    },
    async restart(extra = {}) {
      currentEnv = { ...currentEnv, ...extra, [portVar]: String(svc.port) };
      svc.process = (await launch()).p;
    },
  };
  return svc;
}
