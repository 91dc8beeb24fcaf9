// The janitor's orphan reaper: objects of an ended saga go at once, objects it cannot attribute wait out the grace.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestRuntime } from '../src/index.ts';
import { createIngestHarness, type IngestHarness } from './harness.ts';

let h: IngestHarness;
let rt: IngestRuntime;

beforeAll(async () => {
  h = await createIngestHarness();
  rt = await h.runtime();
});
afterAll(async () => h.close());

describe('orphan reaper', () => {
  it('removes a chunk that landed after its saga rolled back at the next pass, and leaves unattributed young objects alone', async () => {
    await h.writeSource('late-put.bin', 6 * 1024 * 1024);
    await h.writeSource('late-put.txt', Buffer.from('text '.repeat(100)));
    const { sagaId } = await rt.submit({ filePath: 'late-put.bin', textPath: 'late-put.txt', metadata: { title: 'Late PUT' } });
    // Uploaded, then rolled back at vector_insert: the operation exists, the saga ends without a document.
    await rm(path.join(h.root, 'late-put.txt'));
    await rt.startWorkers({ concurrency: 2 });
    const status = await h.waitForEnd(rt, sagaId);
    expect(status.status).toBe('compensated');
    // A PUT that outlived the rollback lands under the operation's prefix; another object belongs to nobody we know.
    const late = `chunks/${sagaId}/00000001`;
    const stranger = `chunks/not-an-operation-of-ours/00000000`;
    for (const key of [late, stranger]) await h.s3.send(new PutObjectCommand({ Bucket: h.bucket, Key: key, Body: 'x' }));
    const pass = await rt.janitorPass();
    expect(pass.orphanPrefixes).toEqual([`chunks/${sagaId}/`]);
    expect(pass.orphanChunksDeleted).toBe(1);
    expect((await h.storedKeys()).sort()).toEqual([stranger]);
  });
});
