// An in-process ingestion runtime on the real services: its own database, bucket, queue prefix and SOURCE_ROOT.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, ListObjectsCommand, S3Client } from '@aws-sdk/client-s3';
import pino from 'pino';
import postgres, { type Sql } from 'postgres';
import { createTestDatabase, randomId, requireEnv, waitFor, type TestDatabase } from '@ingest/testkit';
import { createIngestRuntime, loadConfig, migrateIngestSchema, type IngestConfig, type IngestRuntime, type IngestionStatus } from '../src/index.ts';

/** One test file's ingestion world. */
export interface IngestHarness {
  db: TestDatabase;
  sql: Sql;
  root: string;
  bucket: string;
  config: IngestConfig;
  s3: S3Client;
  runtime(overrides?: Partial<Record<keyof IngestConfig, string>>): Promise<IngestRuntime>;
  writeSource(name: string, bytes: number | Buffer): Promise<string>;
  waitForEnd(rt: IngestRuntime, sagaId: string, timeoutMs?: number): Promise<IngestionStatus>;
  /** Keys stored under chunks/ in this harness's bucket. */
  storedKeys(): Promise<string[]>;
  close(): Promise<void>;
}

/** Sets up the database, bucket and source root. */
export async function createIngestHarness(base: Partial<Record<keyof IngestConfig, string>> = {}): Promise<IngestHarness> {
  const db = await createTestDatabase('ingest');
  const sql = postgres(db.url, { max: 5, onnotice: () => {} });
  const root = await mkdtemp(path.join(tmpdir(), 'sources-'));
  const bucket = `t-${randomId()}`;
  const s3 = new S3Client({
    endpoint: requireEnv('S3_ENDPOINT'),
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: requireEnv('S3_ACCESS_KEY_ID'), secretAccessKey: requireEnv('S3_SECRET_ACCESS_KEY') },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const settings: Partial<Record<keyof IngestConfig, string>> = {
    DATABASE_URL: db.url,
    S3_BUCKET: bucket,
    SOURCE_ROOT: root,
    QUEUE_PREFIX: `t${randomId()}`,
    CHUNK_SIZE_BYTES: String(5 * 1024 * 1024),
    UPLOAD_CONCURRENCY: '2',
    MAX_RESUME_ATTEMPTS: '2',
    RESUME_RETRY_DELAY_MS: '100',
    STORE_RETRY_ATTEMPTS: '2',
    STORE_RETRY_BACKOFF_MS: '100',
    COMPENSATION_RETRY_ATTEMPTS: '2',
    STEP_LEASE_MS: '3000',
    EMBEDDING_DIMENSIONS: '32',
    LOG_LEVEL: 'silent',
    // Confidential documents are always encrypted: every test world has a key-encryption key of its own.
    ENCRYPTION_KEYS: `test-kek:${randomBytes(32).toString('base64')}`,
    ENCRYPTION_ACTIVE_KEY_ID: 'test-kek',
    ...base,
  };
  const config = loadConfig(process.env, settings);
  // What `npm run migrate` does before a fleet starts; runtimes only check the version.
  await migrateIngestSchema(config);
  const runtimes: IngestRuntime[] = [];
  return {
    db,
    sql,
    root,
    bucket,
    config,
    s3,
    async runtime(overrides = {}) {
      const rt = await createIngestRuntime(loadConfig(process.env, { ...settings, ...overrides }), {
        logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
        role: 'test',
      });
      runtimes.push(rt);
      return rt;
    },
    async writeSource(name, bytes) {
      const file = path.join(root, name);
      await writeFile(file, typeof bytes === 'number' ? randomBytes(bytes) : bytes);
      return file;
    },
    async waitForEnd(rt, sagaId, timeoutMs = 60_000) {
      return waitFor(
        async () => {
          const s = await rt.status(sagaId);
          return s.status === 'running' || s.status === 'compensating' ? undefined : s;
        },
        { timeoutMs, what: `saga ${sagaId} to end` },
      );
    },
    async storedKeys() {
      const out = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: 'chunks/' }));
      return (out.Contents ?? []).map((o) => o.Key ?? '');
    },
    async close() {
      for (const rt of runtimes) await rt.close();
      await sql.end();
      await db.drop();
      await rm(root, { recursive: true, force: true });
      s3.destroy();
    },
  };
}
