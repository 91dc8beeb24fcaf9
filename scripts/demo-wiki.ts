// npm run demo:wiki: seeds/003's wiki generation end to end. Starts the filesystem and git services, a producer and
// a worker as real processes; runs one generation that succeeds and one whose snapshot the git service refuses
// (a frozen project), and prints both outcomes: the result, and the rollback that deleted the saved files.
// Options (environment): DEMO_DIR (default .data/demo-wiki).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ROOT as root, demoProcesses, freePort, waitHealthy } from './lib/demo-processes.ts';

const dir = path.resolve(process.env.DEMO_DIR ?? path.join(root, '.data/demo-wiki'));
const { start, stopAll } = demoProcesses('demo:wiki');

function log(line: string): void {
  process.stdout.write(`[demo:wiki] ${line}\n`);
}

async function main(): Promise<number> {
  await rm(dir, { recursive: true, force: true });
  const sources = path.join(dir, 'sources');
  const filesRoot = path.join(dir, 'files');
  const generated = path.join(sources, 'generated-wiki');
  await mkdir(path.join(generated, 'guide'), { recursive: true });
  await writeFile(path.join(generated, 'index.md'), '# Project wiki\n\nGenerated.\n');
  await writeFile(path.join(generated, 'guide', 'setup.md'), '# Setup\n\nnpm ci\n');
  await writeFile(path.join(generated, 'guide', 'usage.md'), '# Usage\n\nnpm run demo:wiki\n');
  // The frozen project already has a page: the rollback must leave it alone.
  await mkdir(path.join(filesRoot, 'frozen-docs'), { recursive: true });
  await writeFile(path.join(filesRoot, 'frozen-docs', 'existing.md'), 'written before the saga\n');

  const token = randomBytes(24).toString('hex');
  const wikiToken = randomBytes(24).toString('hex');
  const [port, metricsPort, fsPort, gitPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const logLevel = process.env.LOG_LEVEL ?? 'warn';
  const serviceEnv = { ...process.env, WIKI_SERVICE_TOKEN: wikiToken, LOG_LEVEL: logLevel };
  log(`starting the filesystem service on :${fsPort} and the git service on :${gitPort} (project frozen-docs is frozen)`);
  start('filesystem-service', 'apps/filesystem-service/src/main.ts', { ...serviceEnv, FILESYSTEM_SERVICE_ROOT: filesRoot, FILESYSTEM_SERVICE_PORT: String(fsPort) });
  start('git-service', 'apps/git-service/src/main.ts', {
    ...serviceEnv,
    GIT_SERVICE_FILES_ROOT: filesRoot,
    GIT_SERVICE_REPOS_ROOT: path.join(dir, 'repos'),
    GIT_SERVICE_PORT: String(gitPort),
    GIT_SERVICE_FROZEN_PROJECTS: 'frozen-docs',
  });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SOURCE_ROOT: sources,
    INTERNAL_TOKEN: token,
    PORT: String(port),
    METRICS_PORT: String(metricsPort),
    QUEUE_PREFIX: `demowiki${randomBytes(3).toString('hex')}`,
    LOG_LEVEL: logLevel,
    FILESYSTEM_SERVICE_URL: `http://127.0.0.1:${fsPort}`,
    GIT_SERVICE_URL: `http://127.0.0.1:${gitPort}`,
    WIKI_SERVICE_TOKEN: wikiToken,
    STORE_RETRY_BACKOFF_MS: '300',
  };
  log(`starting producer on :${port} and a worker`);
  start('producer', 'apps/producer/src/main.ts', env);
  start('worker', 'apps/worker/src/main.ts', env);
  await Promise.all([
    waitHealthy(`http://127.0.0.1:${fsPort}/healthz`, 'filesystem service'),
    waitHealthy(`http://127.0.0.1:${gitPort}/healthz`, 'git service'),
    waitHealthy(`http://127.0.0.1:${port}/healthz`, 'producer'),
    waitHealthy(`http://127.0.0.1:${metricsPort}/healthz`, 'worker'),
  ]);

  const headers = { 'x-internal-token': token, 'content-type': 'application/json' };
  const run = async (projectId: string): Promise<Record<string, unknown>> => {
    const res = await fetch(`http://127.0.0.1:${port}/v1/wiki-generations`, { method: 'POST', headers, body: JSON.stringify({ projectId, userId: 'demo', filesDir: 'generated-wiki' }) });
    const accepted = (await res.json()) as { sagaId: string };
    if (res.status !== 202) throw new Error(`POST /v1/wiki-generations answered ${res.status}: ${JSON.stringify(accepted)}`);
    log(`${projectId}: saga ${accepted.sagaId} accepted`);
    for (;;) {
      const s = (await (await fetch(`http://127.0.0.1:${port}/v1/sagas/${accepted.sagaId}`, { headers })).json()) as Record<string, unknown>;
      if (s.status !== 'running' && s.status !== 'compensating') return s;
      await new Promise((r) => setTimeout(r, 300));
    }
  };

  const ok = await run('acme-docs');
  const refused = await run('frozen-docs');
  const left = (p: string, f: string) => (existsSync(path.join(filesRoot, p, f)) ? 'present' : 'absent');
  const failure = refused.failure as { reason: string; message: string; step: string } | null;
  process.stdout.write(`\n1) acme-docs (succeeds)\n${JSON.stringify(ok.result, null, 2)}\n`);
  process.stdout.write(
    `\n2) frozen-docs (snapshot refused)\n${JSON.stringify(
      {
        status: 'failed',
        error: failure ? `${failure.reason}: ${failure.message}` : null,
        saga_status: { saga_id: refused.sagaId, state: refused.state, status: refused.status, steps: (refused.steps as { name: string; phase: string; status: string }[]).map((s) => `${s.name}: ${s.status}`) },
        files_after_rollback: { 'index.md': left('frozen-docs', 'index.md'), 'guide/setup.md': left('frozen-docs', 'guide/setup.md'), 'existing.md (older)': left('frozen-docs', 'existing.md') },
      },
      null,
      2,
    )}\n`,
  );
  const pass = ok.status === 'completed' && refused.status === 'compensated' && left('frozen-docs', 'index.md') === 'absent' && left('frozen-docs', 'existing.md') === 'present';
  log(pass ? 'both outcomes as expected' : 'UNEXPECTED outcome');
  return pass ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  process.stderr.write(`[demo:wiki] failed: ${err instanceof Error ? err.stack : String(err)}\n`);
} finally {
  await stopAll();
}
process.exit(code);
