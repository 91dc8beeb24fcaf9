// The wiki saga against the two services as real processes: success, refused or unreachable snapshot (rollback
// deletes only what the saga created), a rollback DELETE that fails (typed leftover, janitor pass), a wrong token.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import postgres, { type Sql } from 'postgres';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSagaEngine, migrateSagaCore, SagaLockedError, type SagaEngine, type SagaView } from '@ingest/saga-core';
import { createTestDatabase, randomId, requireEnv, startTcpProxy, waitFor, type TcpProxy, type TestDatabase } from '@ingest/testkit';
import type { JsonValue } from '@ingest/saga-core';
import { WIKI_SAGA, createServiceClient, wikiSaga, wikiStoreRegistry, type ServiceClient, type WikiInput } from '../src/index.ts';
import { startWikiServices, type WikiServices } from '../testing/index.ts';

const TOKEN = `wiki-test-token-${randomId()}`;
let services: WikiServices;
let db: TestDatabase;
let sql: Sql;
let engine: SagaEngine;
let wrongTokenEngine: SagaEngine;
let clients: { filesystem: ServiceClient; git: ServiceClient };
// The saga engine reaches both services through proxies: a test slows or refuses them at the moment it needs.
let fsProxy: TcpProxy;
let gitProxy: TcpProxy;

const input = (projectId: string, files: { path: string; content: string }[]): WikiInput => ({ projectId, userId: 'u1', files, requestedAt: new Date().toISOString() });
const projectDir = (p: string) => path.join(services.filesRoot, p);
const waitForEnd = (e: SagaEngine, sagaId: string): Promise<SagaView> =>
  waitFor(async () => {
    const v = await e.get(sagaId);
    return v.status === 'running' || v.status === 'compensating' ? undefined : v;
  }, { timeoutMs: 60_000, what: `saga ${sagaId} to end` });
const git = (project: string, args: string[]) => execFileSync('git', [`--git-dir=${path.join(services.reposRoot, `${project}.git`)}`, ...args], { encoding: 'utf8' });

async function makeEngine(token: string): Promise<SagaEngine> {
  const c = {
    filesystem: createServiceClient({ name: 'filesystem', baseUrl: fsProxy.urlFor(services.filesystem.url), token, callTimeoutMs: 3000 }),
    git: createServiceClient({ name: 'git', baseUrl: gitProxy.urlFor(services.git.url), token, callTimeoutMs: 3000 }),
  };
  if (token === TOKEN) clients = c;
  const e = await createSagaEngine({
    sql,
    redisUrl: requireEnv('REDIS_URL'),
    prefix: `w${randomId()}`,
    sagas: [wikiSaga({ ...c, maxFileBytes: 1024 * 1024, attempts: 4, backoffMs: 300 })],
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    leaseMs: 3000,
    abortGraceMs: 1000,
  });
  await e.startWorkers({ concurrency: 2, maintenanceIntervalMs: 0 });
  return e;
}

beforeAll(async () => {
  services = await startWikiServices({ token: TOKEN, gitEnv: { GIT_SERVICE_FROZEN_PROJECTS: 'frozen' } });
  fsProxy = await startTcpProxy({ targetHost: '127.0.0.1', targetPort: services.filesystem.port });
  gitProxy = await startTcpProxy({ targetHost: '127.0.0.1', targetPort: services.git.port });
  db = await createTestDatabase('wiki');
  sql = postgres(db.url, { max: 10, onnotice: () => {} });
  await migrateSagaCore(sql);
  engine = await makeEngine(TOKEN);
  wrongTokenEngine = await makeEngine('not-the-right-token-at-all');
});
afterAll(async () => {
  await engine?.close();
  await wrongTokenEngine?.close();
  await sql?.end();
  await db?.drop();
  await fsProxy?.close();
  await gitProxy?.close();
  await services?.stop();
});

// Runs a saga of `count` files whose saves are slowed down, and calls `midway` once save_files is running (so
// check_services has passed and create_snapshot has not started): the window is count × the proxy's latency.
async function startSlowed(projectId: string, files: { path: string; content: string }[], midway: () => void): Promise<string> {
  fsProxy.setLatency(150);
  const { sagaId } = await engine.start(WIKI_SAGA, input(projectId, files));
  await waitFor(async () => ((await engine.get(sagaId)).steps.find((s) => s.name === 'save_files')?.status === 'running' ? true : undefined), { timeoutMs: 30_000, intervalMs: 20, what: 'save_files to run' });
  midway();
  fsProxy.setLatency(0);
  return sagaId;
}

describe('wiki-generation saga over the real services', () => {
  it('saves the files and tags a commit that holds them', async () => {
    const files = [
      { path: 'index.md', content: '# Home' },
      { path: 'guide/setup.md', content: 'Setup' },
    ];
    const { sagaId } = await engine.start(WIKI_SAGA, input('alpha', files));
    const view = await waitForEnd(engine, sagaId);
    expect(view.status, JSON.stringify(view.errors)).toBe('completed');
    const result = view.steps.at(-1)!.output as { status: string; files_created: number; snapshot_id: string; message: string };
    expect(result).toMatchObject({ status: 'success', files_created: 2 });
    expect(readFileSync(path.join(projectDir('alpha'), 'guide/setup.md'), 'utf8')).toBe('Setup');
    expect(git('alpha', ['ls-tree', '-r', '--name-only', result.snapshot_id]).trim().split('\n').sort()).toEqual(['guide/setup.md', 'index.md']);
    expect(git('alpha', ['show', `${result.snapshot_id}:index.md`])).toBe('# Home');
  });

  it('a refused snapshot deletes every file the saga saved and none that existed before', async () => {
    await mkdir(projectDir('frozen'), { recursive: true });
    await writeFile(path.join(projectDir('frozen'), 'old.md'), 'older');
    await writeFile(path.join(projectDir('frozen'), 'unrelated.md'), 'keep me');
    const files = [
      { path: 'old.md', content: 'regenerated' },
      { path: 'new/a.md', content: 'A' },
      { path: 'new/b.md', content: 'B' },
    ];
    const { sagaId } = await engine.start(WIKI_SAGA, input('frozen', files));
    const view = await waitForEnd(engine, sagaId);
    expect(view.status).toBe('compensated');
    expect(view.failure).toMatchObject({ reason: 'REJECTED', step: 'create_snapshot' });
    expect(view.steps.find((s) => s.name === 'save_files')?.status).toBe('compensated');
    expect(existsSync(path.join(projectDir('frozen'), 'new/a.md'))).toBe(false);
    expect(existsSync(path.join(projectDir('frozen'), 'new/b.md'))).toBe(false);
    expect(existsSync(path.join(projectDir('frozen'), 'old.md'))).toBe(true);
    expect(readFileSync(path.join(projectDir('frozen'), 'unrelated.md'), 'utf8')).toBe('keep me');
    expect(view.failedCleanups).toEqual([]);
  });

  it('a second live generation of one project is refused naming the holder', async () => {
    await services.git.stop();
    try {
      const first = await engine.start(WIKI_SAGA, input('busy', [{ path: 'x.md', content: 'x' }]));
      const second = engine.start(WIKI_SAGA, input('busy', [{ path: 'y.md', content: 'y' }]));
      await expect(second).rejects.toBeInstanceOf(SagaLockedError);
      await expect(second).rejects.toMatchObject({ holderSagaId: first.sagaId });
      const view = await waitForEnd(engine, first.sagaId);
      expect(view.failure?.step).toBe('check_services');
    } finally {
      await services.git.restart();
    }
  });

  it('with the git service down past the retries, every saved file is deleted and an older file is untouched', async () => {
    await mkdir(projectDir('delta'), { recursive: true });
    await writeFile(path.join(projectDir('delta'), 'older.md'), 'older');
    const files = [{ path: 'older.md', content: 'new text' }, ...Array.from({ length: 15 }, (_, i) => ({ path: `d${i}.md`, content: `page ${i}` }))];
    const sagaId = await startSlowed('delta', files, () => gitProxy.refuse());
    try {
      const view = await waitForEnd(engine, sagaId);
      // The snapshot's own undo cannot learn whether a snapshot was made while the git service is unreachable: that
      // is its one leftover; the files are deleted all the same.
      expect(view.status).toBe('compensation_failed');
      expect(view.failure).toMatchObject({ reason: 'MAX_RETRIES_EXCEEDED', step: 'create_snapshot' });
      expect(view.failedCleanups.map((c) => `${c.store}:${c.key}`)).toEqual([`git:delta/${sagaId}:create_snapshot`]);
      expect(view.steps.find((s) => s.name === 'save_files')?.status).toBe('compensated');
      for (let i = 0; i < 15; i++) expect(existsSync(path.join(projectDir('delta'), `d${i}.md`))).toBe(false);
      expect(readFileSync(path.join(projectDir('delta'), 'older.md'), 'utf8')).toBe('new text');
    } finally {
      gitProxy.accept();
    }
  });

  it('a DELETE that fails during rollback leaves typed leftovers; a janitor pass removes them once the services are back', async () => {
    const files = Array.from({ length: 15 }, (_, i) => ({ path: `p${i}.md`, content: `page ${i}` }));
    const sagaId = await startSlowed('beta', files, () => gitProxy.refuse());
    try {
      // The git service stays unreachable (the snapshot is retried until it gives up); the filesystem service goes
      // away once the files are saved, so the rollback's DELETEs cannot complete.
      await waitFor(async () => ((await engine.get(sagaId)).steps.find((s) => s.name === 'save_files')?.status === 'succeeded' ? true : undefined), { timeoutMs: 30_000, intervalMs: 20, what: 'save_files' });
      fsProxy.refuse();
      const view = await waitForEnd(engine, sagaId);
      expect(view.status).toBe('compensation_failed');
      expect(view.failure?.step).toBe('create_snapshot');
      const leftovers = view.failedCleanups.map((c) => `${c.store}:${c.key}`).sort();
      expect(leftovers).toEqual([...files.map((f) => `filesystem:beta/${f.path}`), `git:beta/${sagaId}:create_snapshot`].sort());
      expect(existsSync(path.join(projectDir('beta'), 'p0.md'))).toBe(true);

      // While the services are unreachable the janitor cannot clean: the rows stay.
      const ids = view.failedCleanups.map((c) => c.id);
      const down = await engine.retryFailedCleanups({ ids });
      expect(down.resolved).toBe(0);
      fsProxy.accept();
      gitProxy.accept();
      // The breakers opened while the services were unreachable: passes resolve the rows once they let calls through.
      let resolved = 0;
      await waitFor(async () => {
        resolved += (await engine.retryFailedCleanups({ ids })).resolved;
        return resolved === 16 ? true : undefined;
      }, { timeoutMs: 30_000, intervalMs: 500, what: 'every leftover resolved' });
      for (const f of files) expect(existsSync(path.join(projectDir('beta'), f.path))).toBe(false);
      // The checker's question for each leftover: gone.
      const registry = wikiStoreRegistry(clients);
      const rows = await sql<{ step: string; store: string; key: string; details: { [k: string]: JsonValue } | null }[]>`select step, store, key, details from failed_cleanups where saga_id = ${sagaId}`;
      for (const r of rows) expect(await registry[r.store as 'filesystem' | 'git'].exists(r.key, { sagaId, ...r })).toBe(false);
    } finally {
      fsProxy.accept();
      gitProxy.accept();
    }
  });

  it('a wrong token: the services answer 401 and the saga ends UNAUTHORIZED having written nothing', async () => {
    const res = await fetch(`${services.filesystem.url}/save_file`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ project_id: 'gamma', path: 'a.md', content: 'x' }) });
    expect(res.status).toBe(401);
    const res2 = await fetch(`${services.git.url}/snapshot/gamma`, { method: 'POST', headers: { 'x-internal-token': 'wrong' } });
    expect(res2.status).toBe(401);
    const { sagaId } = await wrongTokenEngine.start(WIKI_SAGA, input('gamma', [{ path: 'a.md', content: 'x' }]));
    const view = await waitForEnd(wrongTokenEngine, sagaId);
    // `failed`: rolled back with nothing to undo.
    expect(view.status).toBe('failed');
    expect(view.failure).toMatchObject({ reason: 'UNAUTHORIZED', step: 'check_services' });
    expect(view.failure?.message).not.toContain('not-the-right-token');
    expect(existsSync(projectDir('gamma'))).toBe(false);
  });
});
