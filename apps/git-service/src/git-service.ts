// The git service of the wiki saga: snapshots a project's directory as a commit plus a tag (the snapshot id) and
// deletes a snapshot by removing its tag and moving the branch back to where it was before that snapshot.
// A snapshot requested with an Idempotency-Key is made once; a repeat gets the same tag.
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { INTERNAL_TOKEN_HEADER, createInternalTokenCheck, isSafeProjectId } from '@ingest/wiki';
import { runGit } from './git-cli.ts';
import type { GitServiceSettings } from './settings.ts';

const BRANCH = 'refs/heads/main';
const SNAPSHOT_ID = /^snap-[A-Za-z0-9-]{1,64}$/;

/** Builds the service (not listening). */
export async function buildGitService(settings: GitServiceSettings, logger: Logger): Promise<FastifyInstance> {
  await mkdir(settings.reposRoot, { recursive: true });
  const tokenOk = createInternalTokenCheck(settings.token);
  // Git operations of one project run one at a time (index and refs are shared state).
  const queues = new Map<string, Promise<unknown>>();
  const serial = <T>(project: string, fn: () => Promise<T>): Promise<T> => {
    const next = (queues.get(project) ?? Promise.resolve()).catch(() => {}).then(fn);
    queues.set(project, next);
    return next;
  };
  const loggerInstance: FastifyBaseLogger = logger;
  const app = Fastify({ loggerInstance, disableRequestLogging: true });

  app.addHook('onRequest', async (req, reply) => {
    if (req.url === '/healthz') return;
    const presented = req.headers[INTERNAL_TOKEN_HEADER];
    if (!tokenOk(typeof presented === 'string' ? presented : undefined)) {
      return reply.code(401).send({ code: 'UNAUTHORIZED', message: 'missing or wrong X-INTERNAL-TOKEN' });
    }
  });
  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) logger.error({ err }, 'git service error');
    return reply.code(status).send({ code: status === 500 ? 'INTERNAL' : 'BAD_REQUEST', message: err.message });
  });
  app.get('/healthz', async () => ({ ok: true }));
  // Answers only a caller whose token is right: the saga's check before it writes anything.
  app.get('/whoami', async () => ({ service: 'git' }));

  const dirs = (project: string) => ({ gitDir: path.join(settings.reposRoot, `${project}.git`), workTree: path.join(settings.filesRoot, project) });

  app.post('/snapshot/:projectId', async (req, reply) => {
    const { projectId } = req.params as { projectId: string };
    if (!isSafeProjectId(projectId)) return reply.code(422).send({ code: 'UNSAFE_PATH', message: 'project_id must be letters, digits, _ or -' });
    if (settings.frozenProjects.has(projectId)) return reply.code(423).send({ code: 'PROJECT_FROZEN', message: `project ${projectId} is frozen: snapshots are refused` });
    const key = req.headers['idempotency-key'];
    const { gitDir, workTree } = dirs(projectId);
    if (!(await isDir(workTree))) return reply.code(404).send({ code: 'PROJECT_NOT_FOUND', message: `project ${projectId} has no files` });
    return serial(projectId, async () => {
      await ensureRepo(gitDir, workTree);
      const keyFile = typeof key === 'string' && key !== '' ? path.join(gitDir, 'idempotency', createHash('sha256').update(key).digest('hex')) : null;
      if (keyFile) {
        const known = await readFile(keyFile, 'utf8').catch(() => null);
        if (known && (await git(gitDir, workTree, ['rev-parse', '-q', '--verify', `refs/tags/${known}`])).code === 0) return { snapshot_id: known, replayed: true };
      }
      await mustGit(gitDir, workTree, ['add', '-A']);
      await mustGit(gitDir, workTree, ['commit', '-q', '--allow-empty', '-m', `snapshot of ${projectId}`]);
      const snapshotId = `snap-${randomUUID()}`;
      await mustGit(gitDir, workTree, ['tag', snapshotId, 'HEAD']);
      if (keyFile) {
        await mkdir(path.dirname(keyFile), { recursive: true });
        await writeFile(keyFile, snapshotId);
      }
      const commit = (await mustGit(gitDir, workTree, ['rev-parse', 'HEAD'])).stdout.trim();
      return { snapshot_id: snapshotId, commit };
    });
  });

  // Which snapshot a key made (a rollback whose POST's answer was lost still finds it).
  app.get('/snapshot/:projectId', async (req, reply) => {
    const { projectId } = req.params as { projectId: string };
    const key = (req.query as { idempotency_key?: unknown }).idempotency_key;
    if (!isSafeProjectId(projectId) || typeof key !== 'string') return reply.code(400).send({ code: 'BAD_REQUEST', message: 'project_id and idempotency_key are required' });
    const { gitDir, workTree } = dirs(projectId);
    const known = await readFile(path.join(gitDir, 'idempotency', createHash('sha256').update(key).digest('hex')), 'utf8').catch(() => null);
    if (known && (await git(gitDir, workTree, ['rev-parse', '-q', '--verify', `refs/tags/${known}`])).code === 0) return { snapshot_id: known };
    return reply.code(404).send({ code: 'NOT_FOUND', message: 'no snapshot for this key' });
  });

  app.get('/snapshot/:projectId/:snapshotId', async (req, reply) => {
    const { projectId, snapshotId } = req.params as { projectId: string; snapshotId: string };
    if (!isSafeProjectId(projectId) || !SNAPSHOT_ID.test(snapshotId)) return reply.code(422).send({ code: 'UNSAFE_PATH', message: 'bad project or snapshot id' });
    const { gitDir, workTree } = dirs(projectId);
    if (!(await isDir(gitDir))) return reply.code(404).send({ code: 'NOT_FOUND', message: 'no such snapshot' });
    const r = await git(gitDir, workTree, ['rev-parse', '-q', '--verify', `refs/tags/${snapshotId}^{commit}`]);
    if (r.code !== 0) return reply.code(404).send({ code: 'NOT_FOUND', message: 'no such snapshot' });
    const files = (await mustGit(gitDir, workTree, ['ls-tree', '-r', '--name-only', r.stdout.trim()])).stdout.split('\n').filter((l) => l !== '');
    return { snapshot_id: snapshotId, commit: r.stdout.trim(), files };
  });

  app.delete('/snapshot/:projectId/:snapshotId', async (req, reply) => {
    const { projectId, snapshotId } = req.params as { projectId: string; snapshotId: string };
    if (!isSafeProjectId(projectId) || !SNAPSHOT_ID.test(snapshotId)) return reply.code(422).send({ code: 'UNSAFE_PATH', message: 'bad project or snapshot id' });
    const { gitDir, workTree } = dirs(projectId);
    if (!(await isDir(gitDir))) return { deleted: false };
    return serial(projectId, async () => {
      const tagged = await git(gitDir, workTree, ['rev-parse', '-q', '--verify', `refs/tags/${snapshotId}^{commit}`]);
      if (tagged.code !== 0) return { deleted: false };
      const commit = tagged.stdout.trim();
      const head = (await git(gitDir, workTree, ['rev-parse', '-q', '--verify', BRANCH])).stdout.trim();
      // Only the newest snapshot moves the branch back; an older one keeps its commit in history, untagged.
      if (head === commit) {
        const parent = await git(gitDir, workTree, ['rev-parse', '-q', '--verify', `${commit}^`]);
        if (parent.code === 0) await mustGit(gitDir, workTree, ['update-ref', BRANCH, parent.stdout.trim(), commit]);
        else await mustGit(gitDir, workTree, ['update-ref', '-d', BRANCH, commit]);
        await git(gitDir, workTree, ['read-tree', parent.code === 0 ? parent.stdout.trim() : '--empty']);
      }
      await mustGit(gitDir, workTree, ['tag', '-d', snapshotId]);
      return { deleted: true };
    });
  });

  return app;
}

async function ensureRepo(gitDir: string, workTree: string): Promise<void> {
  if (await isDir(gitDir)) return;
  await mkdir(path.dirname(gitDir), { recursive: true });
  // With --git-dir and --work-tree given, init makes the repository at gitDir with the project as its work tree.
  await mustGit(gitDir, workTree, ['init', '-q', '--initial-branch=main']);
}

const git = runGit;

async function mustGit(gitDir: string, workTree: string, args: readonly string[]) {
  const r = await runGit(gitDir, workTree, args);
  if (r.code !== 0) throw new Error(`git ${args[0]} failed (${r.code}): ${r.stderr.trim().slice(0, 500)}`);
  return r;
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}
