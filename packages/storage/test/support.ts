// Shared set-up of the storage tests: a fresh database with the storage tables, a chunk store on the real S3 server, temp files.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import postgres, { type Sql } from 'postgres';
import type { S3Client } from '@aws-sdk/client-s3';
import { createTestDatabase, randomId, requireEnv, type TestDatabase } from '@ingest/testkit';
import { type ChunkStore, type ChunkStoreOptions, createChunkStore, createS3Client, migrateStorage, readS3Settings } from '../src/index.ts';

/** Everything a storage test file needs; `close()` releases it all. */
export interface StorageFixture {
  database: TestDatabase;
  sql: Sql;
  client: S3Client;
  bucket: string;
  chunkStore: ChunkStore;
  /** A random key prefix for this file's objects, ending in '/'. */
  prefix: string;
  /** A temp directory for source files. */
  dir: string;
  close(): Promise<void>;
}

/** Creates the fixture: a migrated database of its own, a chunk store, a random prefix, a temp dir. */
export async function setUpStorage(storeOptions: Partial<ChunkStoreOptions> = {}): Promise<StorageFixture> {
  const database = await createTestDatabase('storage');
  const sql = postgres(database.url, { max: 4, onnotice: () => {} });
  await migrateStorage(sql);
  const settings = readS3Settings();
  const client = createS3Client(settings);
  const chunkStore = createChunkStore({ client, bucket: settings.bucket, ...storeOptions });
  const dir = await mkdtemp(path.join(tmpdir(), 'storage-test-'));
  return {
    database,
    sql,
    client,
    bucket: settings.bucket,
    chunkStore,
    prefix: `test-${randomId()}/`,
    dir,
    async close() {
      chunkStore.close();
      client.destroy();
      await sql.end();
      await database.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Writes `size` random bytes to `file` in 1 MiB pieces and returns their SHA-256. */
export async function writeRandomFile(file: string, size: number): Promise<string> {
  const out = createWriteStream(file);
  const h = createHash('sha256');
  for (let done = 0; done < size; ) {
    const piece = randomBytes(Math.min(1 << 20, size - done));
    h.update(piece);
    if (!out.write(piece)) await once(out, 'drain');
    done += piece.length;
  }
  out.end();
  await once(out, 'finish');
  return h.digest('hex');
}

/** SHA-256 and length of everything a stream yields. */
export async function hashStream(stream: Readable): Promise<{ size: number; sha256: string }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const piece of stream) {
    size += (piece as Buffer).length;
    h.update(piece as Buffer);
  }
  return { size, sha256: h.digest('hex') };
}

/** Runs `fn` and returns the error it throws (failing the test if it does not throw). */
export async function errorOf(fn: () => Promise<unknown>): Promise<Error & { code?: string; retryable?: boolean; key?: string }> {
  try {
    await fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected an error, none was thrown');
}

/** The directory where the local s3rver keeps objects (infra/services.sh). */
export function s3rverDirectory(): string {
  const root = path.resolve(import.meta.dirname, '../../..');
  return process.env.SERVICES_DIR ? path.join(process.env.SERVICES_DIR, 's3') : path.join(root, '.data/services/s3');
}

export { randomId, requireEnv };
