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

// A few hundred common English words: text built from them compresses like prose (zstd -3 about 3:1).
const WORDS = (
  'the of and to in is was he for it with as his on be at by had are but from or have an they which one you were her all she there would their we him been has when who will more no if out so said what up its about into than them can only other new some could time these two may then do first any my now such like our over man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three states himself few house use during without again place american around however home small found thought went say part once general high upon school every does got united left number course war until always away something fact though water less public put think almost hand enough far took head yet government system better set told nothing night end why called didnt eyes find going look asked later knew point next program city business give group toward young days let room president side social given present several order national possible rather second face per among form important often things looked early white case become large big need four within felt along children saw best church ever least power development light thing seemed family interest want members mind country area others done turned although open god service certain kind problem began different door thus help sense means whole matter perhaps itself york times law human line above name example action company hands local show whether five history gave today either act feet across taken past quite anyone having seen death experience body word half really week field car words already themselves information tell together college shall money period held keep sure free real probably seems political cannot behind miss question air office making brought whose special major heard federal became study ago moment known result street economic boy position reason change south board individual job society areas west close turn love community true court force full'
).split(' ');

/** Writes `size` bytes of dictionary text (words from a fixed list, a seeded generator) to `file`; returns its SHA-256. */
export async function writeTextFile(file: string, size: number, seed = 1): Promise<string> {
  const out = createWriteStream(file);
  const h = createHash('sha256');
  let state = seed >>> 0 || 1;
  const next = (): number => {
    // xorshift32: deterministic, fast, good enough to pick words.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
  for (let done = 0; done < size; ) {
    const parts: string[] = [];
    let length = 0;
    while (length < 1 << 20) {
      const word = WORDS[Math.floor(next() * WORDS.length)] ?? 'the';
      const sep = next() < 0.08 ? '.\n' : ' ';
      parts.push(word, sep);
      length += word.length + sep.length;
    }
    const piece = Buffer.from(parts.join(''), 'utf8').subarray(0, Math.min(1 << 20, size - done));
    h.update(piece);
    if (!out.write(piece)) await once(out, 'drain');
    done += piece.length;
  }
  out.end();
  await once(out, 'finish');
  return h.digest('hex');
}
