// The document lifecycle's two exclusivity keys, held by the engine: a delete holds the document and its source file,
// a replacement its own file and the document; both are refused and freed through the engine alone.
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { requireEnv, waitFor } from '@ingest/testkit';
import type { IngestRuntime } from '../src/index.ts';
import { createIngestHarness, type IngestHarness } from './harness.ts';

let h: IngestHarness;
let rt: IngestRuntime;
let redis: Redis;

beforeAll(async () => {
  h = await createIngestHarness();
  rt = await h.runtime();
  // No maintenance pass in this process: only a saga's end can free its keys here (not the stale-lock pass).
  await rt.engine.startWorkers({ concurrency: 2, maintenanceIntervalMs: 0 });
  redis = new Redis(requireEnv('REDIS_URL'));
});
// A test that failed while the workers were paused must not leave the next one without workers.
afterEach(async () => rt?.resumeWorkers());
afterAll(async () => {
  redis?.disconnect();
  await h?.close();
});

const lockOf = (key: string) => redis.get(`${h.config.QUEUE_PREFIX}:lock:${key}`);
const fileKey = async (name: string) => `file:${await realpath(path.join(h.root, name))}`;
const bothFree = (keys: string[]) =>
  waitFor(async () => ((await Promise.all(keys.map(lockOf))).every((x) => x === null) ? true : undefined), { timeoutMs: 10_000, what: `${keys.join(', ')} to be free` });

async function ingest(name: string): Promise<string> {
  await h.writeSource(name, 2048);
  const { sagaId } = await rt.submit({ filePath: name, metadata: { title: name } });
  const s = await h.waitForEnd(rt, sagaId);
  expect(s.status).toBe('completed');
  return s.documentId!;
}

describe('document locks through the engine', () => {
  it('a delete holds the document and its source file until it ends; a delete of another document of that file is a 409, not its saga', async () => {
    const a = await ingest('twice.bin');
    const b = await ingest('twice.bin');
    const file = await fileKey('twice.bin');
    await rt.pauseWorkers();
    const deleteA = await rt.deleteDocument(a);
    expect(deleteA.created).toBe(true);
    expect(await lockOf(`document:${a}`)).toBe(deleteA.sagaId);
    expect(await lockOf(file)).toBe(deleteA.sagaId);
    // The same document again: the same saga.
    expect(await rt.deleteDocument(a)).toEqual({ sagaId: deleteA.sagaId, created: false });
    // Another document of the same file: refused naming the holder, not answered with a saga that does not delete it.
    const refused = await rt.deleteDocument(b).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'LOCKED', lockKey: file, holderSagaId: deleteA.sagaId });
    // And an ingestion of that file waits for the delete.
    const ingestion = await rt.submit({ filePath: 'twice.bin', metadata: { title: 'third' } }).catch((e: unknown) => e);
    expect(ingestion).toMatchObject({ code: 'LOCKED', holderSagaId: deleteA.sagaId });
    await rt.resumeWorkers();
    expect((await h.waitForEnd(rt, deleteA.sagaId)).status).toBe('completed');
    await bothFree([`document:${a}`, file]);
    const deleteB = await rt.deleteDocument(b);
    expect((await h.waitForEnd(rt, deleteB.sagaId)).status).toBe('completed');
    await bothFree([`document:${b}`, file]);
  });

  it('a replacement holds its file and the document until it ends: a delete meanwhile is a 409 naming it', async () => {
    const doc = await ingest('rep-one.bin');
    await h.writeSource('rep-two.bin', 2048);
    const file = await fileKey('rep-two.bin');
    await rt.pauseWorkers();
    const { sagaId } = await rt.submit({ filePath: 'rep-two.bin', metadata: { title: 'two' }, replaces: doc });
    expect(await lockOf(file)).toBe(sagaId);
    expect(await lockOf(`document:${doc}`)).toBe(sagaId);
    expect((await rt.engine.get(sagaId)).lockKeys).toEqual([file, `document:${doc}`]);
    const refused = await rt.deleteDocument(doc).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'LOCKED', lockKey: `document:${doc}`, holderSagaId: sagaId });
    await rt.resumeWorkers();
    expect((await h.waitForEnd(rt, sagaId)).status).toBe('completed');
    await bothFree([file, `document:${doc}`]);
  });
});
