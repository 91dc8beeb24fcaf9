// seeds/004 §3 "Integrity verification failures" (I1-I5). The saga is held before verify_integrity (no worker
// consumes that queue) while the test damages what the gate compares: the manifest (DELETE upload_chunks), the
// stored objects (replaced or deleted with the S3 client, straight on the server) or the source on disk. Then the
// gate runs. Each row must roll back before any downstream store is touched, and leave nothing anywhere.
import { appendFile } from 'node:fs/promises';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chunkKey, operationKeyPrefix } from '@ingest/storage';
import { ended, expectConsistent, expectNothingLeft, stepStatus, submit, until, type SagaIds, overwrite } from './outcome.ts';
import { createMatrixWorld, doQueue, type MatrixWorld } from './world.ts';

const MiB = 1024 * 1024;
const SIZE = 20 * MiB;
let w: MatrixWorld;

beforeAll(async () => {
  w = await createMatrixWorld();
});
afterEach(async () => w.endTest());
afterAll(async () => w?.close());

const keyOf = (ids: SagaIds, index: number) => chunkKey(operationKeyPrefix('chunks/', ids.operationId), index);
const putObject = (key: string, body: Buffer) => w.h.s3.send(new PutObjectCommand({ Bucket: w.h.bucket, Key: key, Body: body }));

describe('integrity verification (seeds/004 §3)', () => {
  it.each([
    {
      row: 'I1 chunk count mismatch (the last manifest row lost)',
      reason: 'CHUNK_COUNT_MISMATCH',
      touchesSource: false,
      damage: async (ids: SagaIds) => void (await w.h.sql`delete from upload_chunks where operation_id = ${ids.operationId} and chunk_index = 3`),
    },
    {
      row: 'I2 hash mismatch (source rewritten after the upload, same size)',
      reason: 'HASH_MISMATCH',
      touchesSource: true,
      damage: async (_ids: SagaIds, file: string) => overwrite(file, 6 * MiB, Buffer.from('not what was uploaded')),
    },
    {
      row: 'I3 size mismatch (the server stores a shorter chunk)',
      reason: 'SIZE_MISMATCH',
      touchesSource: false,
      damage: async (ids: SagaIds) => void (await putObject(keyOf(ids, 1), randomBytes(1024))),
    },
    {
      row: 'I3 size mismatch (the source grew after the upload)',
      reason: 'SIZE_MISMATCH',
      touchesSource: true,
      damage: async (_ids: SagaIds, file: string) => appendFile(file, Buffer.from('a page more')),
    },
    {
      row: 'I4 missing chunk (deleted from the server)',
      reason: 'CHUNK_COUNT_MISMATCH',
      touchesSource: false,
      damage: async (ids: SagaIds) => void (await w.h.s3.send(new DeleteObjectCommand({ Bucket: w.h.bucket, Key: keyOf(ids, 2) }))),
    },
    {
      row: 'I5 corrupt chunk (same size, other bytes on the server)',
      reason: 'HASH_MISMATCH',
      touchesSource: false,
      damage: async (ids: SagaIds) => void (await putObject(keyOf(ids, 0), randomBytes(5 * MiB))),
    },
  ])('$row: the gate fails ($reason), nothing reaches a downstream store, every chunk is deleted', async ({ reason, damage, touchesSource }) => {
    const rt = await w.runtimeHolding([doQueue('verify_integrity')]);
    const name = `gate-${reason}-${Math.random().toString(36).slice(2, 6)}.bin`;
    const file = await w.h.writeSource(name, SIZE);
    const ids = await submit(rt, name, { content: 'text for the vector store '.repeat(100) });
    await until(rt, ids.sagaId, 'the upload to succeed', (s) => stepStatus(s, 'chunked_upload') === 'succeeded');
    const original = await w.sourceDigest(name);
    await damage(ids, file);
    // The saga never writes the source: it must end as the test left it.
    const expected = touchesSource ? await w.sourceDigest(name) : original;
    await w.release([doQueue('verify_integrity')]);
    const status = await ended(w, rt, ids.sagaId);
    expect(status).toMatchObject({ status: 'compensated', state: 'rolled_back', rollbackStatus: 'success', failure: { reason, step: 'verify_integrity' } });
    for (const step of ['security_classification', 'vector_insert', 'graph_insert', 'relational_insert', 'finalize']) expect(stepStatus(status, step)).toBe('pending');
    const passedThrough = await w.h.sql`select to_state from saga_events where saga_id = ${ids.sagaId} and type = 'state_changed' order by id`;
    expect(passedThrough.map((r) => r.to_state)).toContain('verify_failed');
    await expectNothingLeft(w, ids);
    expect(await w.sourceDigest(name)).toBe(expected);
    await expectConsistent(w);
  });
});
