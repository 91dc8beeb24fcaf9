// @ingest/ingest/testing: an isolated slice of the real services for tests of the apps that run the runtime —
// own database, queue prefix, source directory and token — plus a runtime over it. Test code only.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createTestDatabase, flushPrefix, randomId, requireEnv } from '@ingest/testkit';
import { createIngestRuntime, loadConfig, migrateIngestSchema, type IngestRuntime } from '../src/index.ts';

/** One test file's private slice of the real services. */
export interface TestEnv {
  /** Every setting an app process needs, INTERNAL_TOKEN included. */
  env: Record<string, string>;
  token: string;
  sourceRoot: string;
  /** Writes a file under SOURCE_ROOT and returns its relative path. */
  writeSource(relativePath: string, bytes: Buffer | string): Promise<string>;
  /** A runtime over this environment (workers not started); closed by close(). */
  runtime(): Promise<IngestRuntime>;
  close(): Promise<void>;
}

/** Creates a database, a queue prefix and a source directory that no other test sees; `extra` overrides settings. */
export async function createTestEnv(extra: Record<string, string> = {}): Promise<TestEnv> {
  const db = await createTestDatabase('apps');
  const sourceRoot = await mkdtemp(path.join(tmpdir(), 'ingest-src-'));
  const redisUrl = requireEnv('REDIS_URL');
  const queuePrefix = `t${randomId()}`;
  const token = `test-token-${randomId(12)}`;
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
    INTERNAL_TOKEN: token,
    CHUNK_SIZE_BYTES: String(5 * 1024 * 1024),
    // Confidential documents are always encrypted: every test world has a key-encryption key of its own.
    ENCRYPTION_KEYS: `test-kek:${randomBytes(32).toString('base64')}`,
    ENCRYPTION_ACTIVE_KEY_ID: 'test-kek',
    // info: the app processes' readiness lines ("worker ready", "producer listening") are what tests wait for.
    LOG_LEVEL: 'info',
    ...extra,
  };
  // What `npm run migrate` does before a fleet starts; apps and runtimes only check the version.
  await migrateIngestSchema(loadConfig(env));
  const runtimes: IngestRuntime[] = [];
  return {
    env,
    token,
    sourceRoot,
    async writeSource(relativePath, bytes) {
      const full = path.join(sourceRoot, relativePath);
      await mkdir(path.dirname(full), { recursive: true });
      await writeFile(full, bytes);
      return relativePath;
    },
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
