// The filesystem service of the wiki saga: files under one root, one directory per project, saved and deleted over
// HTTP. A save with an Idempotency-Key is done once: a repeat gets the first answer back, and whether the file
// existed before that first save is remembered, so a rollback can delete only what the saga created.
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { INTERNAL_TOKEN_HEADER, createInternalTokenCheck, isSafeProjectId, unsafePathReason } from '@ingest/wiki';
import type { FilesystemServiceSettings } from './settings.ts';

/** The answer to a save, replayed for a repeated Idempotency-Key. */
interface SaveRecord {
  project_id: string;
  path: string;
  /** True when the file did not exist before this save. */
  created: boolean;
  bytes: number;
}

// Bookkeeping lives beside the projects; a project id cannot start with a dot, so no project can reach it.
const META_DIR = '.fs-service';

/** Builds the service (not listening); `saveCounts` tells tests how many times each key actually wrote. */
export async function buildFilesystemService(settings: FilesystemServiceSettings, logger: Logger): Promise<{ app: FastifyInstance; saveCounts: Map<string, number> }> {
  await mkdir(path.join(settings.root, META_DIR, 'keys'), { recursive: true });
  const root = await realpath(settings.root);
  const tokenOk = createInternalTokenCheck(settings.token);
  const saveCounts = new Map<string, number>();
  // One save per key at a time: a retried request racing its own first attempt must not write twice.
  const inFlight = new Map<string, Promise<SaveRecord>>();
  const loggerInstance: FastifyBaseLogger = logger;
  const app = Fastify({ loggerInstance, bodyLimit: settings.bodyLimitBytes, disableRequestLogging: true });

  app.addHook('onRequest', async (req, reply) => {
    if (req.url === '/healthz') return;
    const presented = req.headers[INTERNAL_TOKEN_HEADER];
    if (!tokenOk(typeof presented === 'string' ? presented : undefined)) {
      return reply.code(401).send({ code: 'UNAUTHORIZED', message: 'missing or wrong X-INTERNAL-TOKEN' });
    }
  });
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) logger.error({ err }, 'filesystem service error');
    return reply.code(status).send({ code: status === 413 ? 'BODY_TOO_LARGE' : status === 500 ? 'INTERNAL' : (err.code ?? 'BAD_REQUEST'), message: err.message });
  });

  app.get('/healthz', async () => ({ ok: true }));
  // Answers only a caller whose token is right: the saga's check before it writes anything.
  app.get('/whoami', async () => ({ service: 'filesystem' }));

  app.post('/save_file', async (req, reply) => {
    const body = req.body as { project_id?: unknown; path?: unknown; content?: unknown } | null;
    const projectId = typeof body?.project_id === 'string' ? body.project_id : '';
    const filePath = typeof body?.path === 'string' ? body.path : '';
    if (typeof body?.content !== 'string') return reply.code(400).send({ code: 'BAD_REQUEST', message: 'content must be a string' });
    const target = await resolveTarget(root, projectId, filePath, reply);
    if (target === null) return reply;
    const key = idempotencyKey(req);
    const content = body.content;
    const save = async (): Promise<SaveRecord> => {
      const existed = await exists(target);
      await mkdir(path.dirname(target), { recursive: true });
      // Inside the root even after the directories exist (a symlink planted in the tree cannot redirect a write).
      if (!isInside(root, await realpath(path.dirname(target)))) throw Object.assign(new Error('path escapes the root'), { statusCode: 422, code: 'UNSAFE_PATH' });
      const tmp = `${target}.${randomUUID()}.tmp`;
      await writeFile(tmp, content);
      await rename(tmp, target);
      if (key !== null) saveCounts.set(key, (saveCounts.get(key) ?? 0) + 1);
      return { project_id: projectId, path: filePath, created: !existed, bytes: Buffer.byteLength(content) };
    };
    if (key === null) return save();
    const recordFile = path.join(root, META_DIR, 'keys', `${sha256(key)}.json`);
    const previous = await readRecord(recordFile);
    if (previous) return { ...previous, replayed: true };
    let pending = inFlight.get(key);
    if (!pending) {
      pending = save().then(async (record) => {
        await writeFile(recordFile, JSON.stringify(record));
        return record;
      });
      inFlight.set(key, pending);
      void pending.finally(() => inFlight.delete(key)).catch(() => {});
    }
    return pending;
  });

  // Deletes one file. With ?created_by=<key> only when that save created it (a rollback must spare older files).
  app.delete('/file/:projectId/*', async (req, reply) => {
    const { projectId, '*': filePath } = req.params as { projectId: string; '*': string };
    const target = await resolveTarget(root, projectId, filePath, reply);
    if (target === null) return reply;
    const createdBy = (req.query as { created_by?: unknown }).created_by;
    if (typeof createdBy === 'string') {
      const record = await readRecord(path.join(root, META_DIR, 'keys', `${sha256(createdBy)}.json`));
      if (!record || record.project_id !== projectId || record.path !== filePath) return { deleted: false, reason: 'not_saved_by_key' };
      if (!record.created) return { deleted: false, reason: 'existed_before' };
    }
    const existed = await exists(target);
    await rm(target, { force: true });
    return { deleted: existed };
  });

  app.get('/file/:projectId/*', async (req, reply) => {
    const { projectId, '*': filePath } = req.params as { projectId: string; '*': string };
    const target = await resolveTarget(root, projectId, filePath, reply);
    if (target === null) return reply;
    const createdBy = (req.query as { created_by?: unknown }).created_by;
    let createdByKey = true;
    if (typeof createdBy === 'string') {
      // The checker's question: is a file this key created still there (a file that existed before does not count).
      const record = await readRecord(path.join(root, META_DIR, 'keys', `${sha256(createdBy)}.json`));
      createdByKey = record !== null && record.created && record.project_id === projectId && record.path === filePath;
    }
    if (!createdByKey || !(await exists(target))) return reply.code(404).send({ code: 'NOT_FOUND', message: `${projectId}/${filePath} does not exist` });
    return reply.type('application/octet-stream').send(await readFile(target));
  });

  // How many times each key wrote (not replays): the proof of exactly-once that tests read.
  app.get('/_stats/saves', async () => ({ keys: saveCounts.size, writes: [...saveCounts.values()].reduce((a, b) => a + b, 0), maxPerKey: Math.max(0, ...saveCounts.values()) }));

  return { app, saveCounts };
}

async function resolveTarget(root: string, projectId: string, filePath: string, reply: FastifyReply): Promise<string | null> {
  if (!isSafeProjectId(projectId)) {
    await reply.code(422).send({ code: 'UNSAFE_PATH', message: 'project_id must be letters, digits, _ or - (at most 128)' });
    return null;
  }
  const reason = unsafePathReason(filePath);
  const target = path.resolve(root, projectId, filePath);
  if (reason !== null || !isInside(path.join(root, projectId), target)) {
    await reply.code(422).send({ code: 'UNSAFE_PATH', message: `path ${reason ?? 'escapes the project'}` });
    return null;
  }
  return target;
}

function isInside(dir: string, candidate: string): boolean {
  return candidate.startsWith(dir + path.sep);
}

function idempotencyKey(req: FastifyRequest): string | null {
  const v = req.headers['idempotency-key'];
  return typeof v === 'string' && v.length > 0 && v.length <= 512 ? v : null;
}

async function readRecord(file: string): Promise<SaveRecord | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as SaveRecord;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
