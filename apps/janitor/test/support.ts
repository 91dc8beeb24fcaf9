// Test support: an isolated environment (own database, queue prefix, source directory) for janitor processes,
// and an in-process runtime over it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { createTestDatabase, flushPrefix, randomId, requireEnv } from '@ingest/testkit';
import { createIngestRuntime, loadConfig, type IngestRuntime } from '@ingest/ingest';

/** The repository root, for spawning the apps' entry points. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** One test file's private slice of the real services. */
export interface TestEnv {
  env: Record<string, string>;
  sourceRoot: string;
  /** A runtime over this environment; closed by close(). */
  runtime(): Promise<IngestRuntime>;
  close(): Promise<void>;
}

/** Creates a database, a queue prefix and a source directory that no other test sees; `extra` overrides settings. */
export async function createTestEnv(extra: Record<string, string> = {}): Promise<TestEnv> {
  const db = await createTestDatabase('apps');
  const sourceRoot = await mkdtemp(path.join(tmpdir(), 'ingest-src-'));
  const redisUrl = requireEnv('REDIS_URL');
  const queuePrefix = `t${randomId()}`;
  const env: Record<string, string> = {
    REDIS_URL: redisUrl,
    DATABASE_URL: db.url,
    S3_ENDPOINT: requireEnv('S3_ENDPOINT'),
    S3_REGION: requireEnv('S3_REGION'),
    S3_BUCKET: requireEnv('S3_BUCKET'),
    S3_ACCESS_KEY_ID: requireEnv('S3_ACCESS_KEY_ID'),
    S3_SECRET_ACCESS_KEY: requireEnv('S3_SECRET_ACCESS_KEY'),
    S3_FORCE_PATH_STYLE: requireEnv('S3_FORCE_PATH_STYLE'),
    SOURCE_ROOT: sourceRoot,
    QUEUE_PREFIX: queuePrefix,
    CHUNK_SIZE_BYTES: String(5 * 1024 * 1024),
    LOG_LEVEL: 'info',
    ...extra,
  };
  const runtimes: IngestRuntime[] = [];
  return {
    env,
    sourceRoot,
    async runtime() {
      const r = await createIngestRuntime(loadConfig(env), { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), role: 'test' });
      runtimes.push(r);
      return r;
    },
    async close() {
      for (const r of runtimes) await r.close();
      await flushPrefix(redisUrl, queuePrefix);
      await rm(sourceRoot, { recursive: true, force: true });
      await db.drop();
    },
  };
}
