// What the storage layer costs PostgreSQL per small (one-chunk) document: statements per call, counted through
// postgres.js' debug hook on a pool of the test's own, so a regression on the hot path fails here, not in a benchmark.
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUploader, identifySource } from '../src/index.ts';
import { type StorageFixture, randomId, setUpStorage, writeRandomFile } from './support.ts';

const KiB = 1024;
let f: StorageFixture;
let statements: string[] = [];
let counted: postgres.Sql;

beforeAll(async () => {
  f = await setUpStorage();
  counted = postgres(f.database.url, { max: 2, onnotice: () => {}, debug: (_connection, query) => void statements.push(query) });
  // postgres.js reads the array types once per pool, on its first query: not a cost of any call.
  await counted`select 1`;
});
afterAll(async () => {
  await counted?.end();
  await f?.close();
});

/** Statements `fn` issued. */
async function count(fn: () => Promise<unknown>): Promise<string[]> {
  statements = [];
  await fn();
  return statements;
}

describe('statements per one-chunk document', () => {
  it('creates, uploads, verifies and publishes a 256 KiB document in 1 + 2 + 1 + 1 statements', async () => {
    const u = createUploader({ sql: counted, chunkStore: f.chunkStore, keyPrefix: f.prefix });
    const file = path.join(f.dir, `src-${randomId()}`);
    const sha256 = await writeRandomFile(file, 256 * KiB);
    const source = await identifySource({ root: f.dir, path: file });
    const id = `op-${randomId()}`;

    const create = await count(() => u.createOperation({ operationId: id, owner: 'saga-s', sourcePath: file, source }));
    const upload = await count(async () => expect(await u.upload(id, { source })).toMatchObject({ chunkCount: 1, sha256 }));
    const verify = await count(async () => expect(await u.verify(id, { source })).toMatchObject({ chunkCount: 1, sha256 }));
    const publish = await count(() => u.publishManifest(id, { documentId: '00000000-0000-4000-8000-000000000001', metadata: {} }));
    expect({ create: create.length, upload: upload.length, verify: verify.length, publish: publish.length }).toEqual({ create: 1, upload: 2, verify: 1, publish: 1 });
  });
});
