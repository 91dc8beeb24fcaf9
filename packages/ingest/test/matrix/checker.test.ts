// The consistency checker against a real world: each violation is built for real (an object put with the S3
// client, a row inserted, a chunk deleted, a deadline aged, a leftover recorded or lost) and the checker must
// report exactly it; the clean world around it must report nothing.
import { randomUUID } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestRuntime } from '../../src/index.ts';
import { cleanWithJanitor, ended, expectConsistent, openLeftovers, stepStatus, submit, until, type SagaIds } from './outcome.ts';
import { createMatrixWorld, doQueue, type MatrixWorld } from './world.ts';

const MiB = 1024 * 1024;
let w: MatrixWorld;
let rt: IngestRuntime;
let committed: SagaIds;

async function bytesOf(key: string): Promise<Buffer> {
  const out = await w.h.s3.send(new GetObjectCommand({ Bucket: w.h.bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}
const put = (key: string, body: Buffer) => w.h.s3.send(new PutObjectCommand({ Bucket: w.h.bucket, Key: key, Body: body }));
const del = (key: string) => w.h.s3.send(new DeleteObjectCommand({ Bucket: w.h.bucket, Key: key }));

beforeAll(async () => {
  w = await createMatrixWorld();
  rt = await w.runtime();
  // No maintenance in this process: an aged deadline must stay aged until the checker has seen it.
  await rt.engine.startWorkers({ concurrency: 2, maintenanceIntervalMs: 0 });
  await w.h.writeSource('kept.bin', 6 * MiB);
  committed = await submit(rt, 'kept.bin', { content: 'alpha beta gamma '.repeat(200), relations: [{ type: 'cites', target: 'doc:elsewhere' }] });
  expect((await ended(w, rt, committed.sagaId)).status).toBe('completed');
});
afterAll(async () => w?.close());

describe('consistency checker', () => {
  it('reports nothing for a clean world of a committed and a rolled-back saga', async () => {
    await w.h.writeSource('vanishing.bin', 1024);
    const idle = await w.runtime({ QUEUE_PREFIX: `idle${randomUUID().slice(0, 8)}` });
    const gone = await submit(idle, 'vanishing.bin');
    await idle.cancel(gone.sagaId);
    expect((await ended(w, rt, gone.sagaId)).status).toBe('failed');
    const report = await w.check({ deep: true });
    expect(report.violations).toEqual([]);
    // Two chunks and the manifest object written at commit.
    expect(report.scanned).toMatchObject({ sagas: 2, completedSagas: 1, documentsVerified: 1, chunksVerified: 2, objectsListed: 3 });
  });

  it('an object under chunks/ that no saga owns is an orphan chunk', async () => {
    const op = randomUUID();
    await put(`chunks/${op}/00000000`, Buffer.from('stray'));
    const report = await w.check();
    expect(report.violations).toEqual([{ kind: 'orphan_chunks', operationId: op, sagaId: null, sagaStatus: null, count: 1, keys: [`chunks/${op}/00000000`] }]);
    await del(`chunks/${op}/00000000`);
    await expectConsistent(w);
  });

  it('an object under a committed operation that its manifest does not list is an orphan chunk', async () => {
    const key = `chunks/${committed.operationId}/00000099`;
    await put(key, Buffer.from('not part of the document'));
    const report = await w.check();
    expect(report.violations).toEqual([
      { kind: 'orphan_chunks', operationId: committed.operationId, sagaId: committed.sagaId, sagaStatus: 'completed', count: 1, keys: [key] },
    ]);
    await del(key);
    await expectConsistent(w);
  });

  it('a vector row of a document no saga committed is an orphan row', async () => {
    const documentId = randomUUID();
    await w.h.sql`insert into vector_chunks (document_id, chunk_index, content, embedding, model) values (${documentId}, 0, 'orphan', ${[0.1, 0.2]}, 'local')`;
    const report = await w.check();
    expect(report.violations).toEqual([{ kind: 'orphan_rows', store: 'vector', documentId, sagaId: null, sagaStatus: null, count: 1 }]);
    await w.h.sql`delete from vector_chunks where document_id = ${documentId}`;
    await expectConsistent(w);
  });

  it('a deleted committed chunk makes the document corrupt', async () => {
    const key = `chunks/${committed.operationId}/00000001`;
    const saved = await bytesOf(key);
    await del(key);
    const report = await w.check();
    expect(report.violations).toEqual([expect.objectContaining({ kind: 'corrupt_document', sagaId: committed.sagaId, documentId: committed.documentId, key, problem: 'chunk 1 is missing from the bucket' })]);
    await put(key, saved);
    await expectConsistent(w);
  });

  it('a corrupted manifest row of a committed document disagrees with the bucket', async () => {
    const [row] = await w.h.sql<{ md5: string }[]>`select md5 from upload_chunks where operation_id = ${committed.operationId} and chunk_index = 0`;
    await w.h.sql`update upload_chunks set md5 = ${'0'.repeat(32)} where operation_id = ${committed.operationId} and chunk_index = 0`;
    const report = await w.check();
    expect(report.violations).toEqual([expect.objectContaining({ kind: 'corrupt_document', key: `chunks/${committed.operationId}/00000000` })]);
    await w.h.sql`update upload_chunks set md5 = ${row!.md5} where operation_id = ${committed.operationId} and chunk_index = 0`;
    await expectConsistent(w);
  });

  it('--deep reads bytes back: a same-size replacement whose manifest MD5 was forged passes HEAD but not the read', async () => {
    const key = `chunks/${committed.operationId}/00000001`;
    const saved = await bytesOf(key);
    const forged = Buffer.from(saved);
    forged[0] = forged[0]! ^ 0xff;
    const [row] = await w.h.sql<{ md5: string }[]>`select md5 from upload_chunks where operation_id = ${committed.operationId} and chunk_index = 1`;
    await put(key, forged);
    const forgedMd5 = (await import('node:crypto')).createHash('md5').update(forged).digest('hex');
    await w.h.sql`update upload_chunks set md5 = ${forgedMd5} where operation_id = ${committed.operationId} and chunk_index = 1`;
    expect((await w.check()).violations).toEqual([]);
    const deep = await w.check({ deep: true });
    expect(deep.violations).toEqual([expect.objectContaining({ kind: 'corrupt_document', key, problem: expect.stringMatching(/^chunk 1: read back \d+ bytes sha256/) })]);
    await put(key, saved);
    await w.h.sql`update upload_chunks set md5 = ${row!.md5} where operation_id = ${committed.operationId} and chunk_index = 1`;
    await expectConsistent(w);
  });

  it('--deep decodes an encrypted, compressed document: clean as stored, a tampered chunk reported with CHUNK_AUTH_FAILED', async () => {
    await w.h.writeSource('secret.txt', Buffer.from('quarterly numbers and their commentary '.repeat(200_000)));
    const secret = await submit(rt, 'secret.txt', { metadata: { title: 'secret', securityLevel: 'restricted' } });
    expect((await ended(w, rt, secret.sagaId)).status).toBe('completed');
    const rows = await w.h.sql<{ codec: string; nonce: string | null }[]>`select codec, nonce from upload_chunks where operation_id = ${secret.operationId}`;
    expect(rows.length).toBe(2);
    expect(rows.every((r) => r.codec === 'zstd' && r.nonce !== null)).toBe(true);
    expect((await w.check({ deep: true })).violations).toEqual([]);

    const key = `chunks/${secret.operationId}/00000000`;
    const saved = await bytesOf(key);
    const forged = Buffer.from(saved);
    forged[20] = forged[20]! ^ 0x01;
    await put(key, forged);
    // The forger also fixes the stored hashes in the manifest: HEAD agrees, only authentication can tell.
    const { createHash } = await import('node:crypto');
    const [row] = await w.h.sql<{ stored_md5: string; stored_sha256: string }[]>`select stored_md5, stored_sha256 from upload_chunks where operation_id = ${secret.operationId} and chunk_index = 0`;
    await w.h.sql`update upload_chunks set stored_md5 = ${createHash('md5').update(forged).digest('hex')}, stored_sha256 = ${createHash('sha256').update(forged).digest('hex')}
      where operation_id = ${secret.operationId} and chunk_index = 0`;
    expect((await w.check()).violations).toEqual([]);
    expect((await w.check({ deep: true })).violations).toEqual([
      expect.objectContaining({ kind: 'corrupt_document', key, problem: expect.stringMatching(/^chunk 0: CHUNK_AUTH_FAILED /) }),
    ]);
    await put(key, saved);
    await w.h.sql`update upload_chunks set stored_md5 = ${row!.stored_md5}, stored_sha256 = ${row!.stored_sha256} where operation_id = ${secret.operationId} and chunk_index = 0`;
    await expectConsistent(w);
  });

  it('a completed saga whose security record vanished is an incomplete document', async () => {
    const [saved] = await w.h.sql`select * from security_records where document_id = ${committed.documentId}`;
    await w.h.sql`delete from security_records where document_id = ${committed.documentId}`;
    const report = await w.check();
    expect(report.violations).toEqual([{ kind: 'incomplete_document', sagaId: committed.sagaId, documentId: committed.documentId, store: 'security', problem: 'no security record' }]);
    await w.h.sql`insert into security_records ${w.h.sql(saved!)}`;
    await expectConsistent(w);
  });

  it('a second documents row for the same saga is a duplicate document', async () => {
    const twin = randomUUID();
    await w.h.sql`insert into documents (id, title, source_path, size, sha256, chunk_count, metadata)
      values (${twin}, 'twin', 'kept.bin', 1, ${'a'.repeat(64)}, 1, ${w.h.sql.json({ sagaId: committed.sagaId })})`;
    const report = await w.check();
    const ids = [committed.documentId, twin].sort();
    expect(report.violations).toEqual(
      expect.arrayContaining([
        { kind: 'duplicate_document', by: 'saga', sharedKey: committed.sagaId, ids },
        { kind: 'orphan_rows', store: 'relational', documentId: twin, sagaId: null, sagaStatus: null, count: 1 },
      ]),
    );
    expect(report.violationCount).toBe(2);
    await w.h.sql`delete from documents where id = ${twin}`;
    await expectConsistent(w);
  });

  it('a live saga past its deadline (beyond the grace) is overdue', async () => {
    await w.h.writeSource('waiting.bin', 1024);
    const idle = await w.runtime({ QUEUE_PREFIX: `idle${randomUUID().slice(0, 8)}` });
    const waiting = await submit(idle, 'waiting.bin');
    await w.h.sql`update saga_instances set deadline_at = now() - interval '10 minutes' where id = ${waiting.sagaId}`;
    const report = await w.check();
    expect(report.violations).toEqual([expect.objectContaining({ kind: 'overdue_saga', sagaId: waiting.sagaId, status: 'running', state: 'initialized' })]);
    expect((report.violations[0] as { overdueMs: number }).overdueMs).toBeGreaterThan(590_000);
    expect((await w.check({ overdueGraceMs: 3_600_000 })).violations).toEqual([]);
    await idle.cancel(waiting.sagaId);
    await expectConsistent(w);
  });

  it('a recorded leftover that no longer exists, and one in a store its saga does not declare, are both reported', async () => {
    const missing = `chunks/${committed.operationId}/00000077`;
    const [gone] = await w.h.sql<{ id: number }[]>`insert into failed_cleanups (saga_id, step, store, key, error)
      values (${committed.sagaId}, 'chunked_upload', 's3-chunk', ${missing}, 'test') returning id`;
    const [odd] = await w.h.sql<{ id: number }[]>`insert into failed_cleanups (saga_id, step, store, key, error)
      values (${committed.sagaId}, 'chunked_upload', 'no-such-store', ${committed.sagaId}, 'test') returning id`;
    const report = await w.check();
    expect(report.violations).toEqual([
      { kind: 'leftover_already_gone', leftoverId: Number(gone!.id), sagaId: committed.sagaId, store: 's3-chunk', key: missing },
      { kind: 'unknown_leftover_store', leftoverId: Number(odd!.id), sagaId: committed.sagaId, store: 'no-such-store', key: committed.sagaId },
    ]);
    await w.h.sql`update failed_cleanups set resolved_at = now() where id in (${gone!.id}, ${odd!.id})`;
    await expectConsistent(w);
  });

  it('a rollback that failed is consistent while its leftovers are recorded, and reported once one is not', async () => {
    // Held before relational_insert, then cancelled: everything before it rolls back, one chunk refuses to go.
    const held = await w.runtimeHolding([doQueue('relational_insert')], { QUEUE_PREFIX: `held${randomUUID().slice(0, 8)}` });
    await w.h.writeSource('stuck.bin', 11 * MiB);
    const stuck = await submit(held, 'stuck.bin', { content: 'some text '.repeat(50) });
    await until(held, stuck.sagaId, 'graph_insert to succeed', (s) => stepStatus(s, 'graph_insert') === 'succeeded');
    const refused = `chunks/${stuck.operationId}/00000002`;
    const refusal = w.s3.refuseDeletesFor([refused]);
    await held.cancel(stuck.sagaId);
    const status = await ended(w, held, stuck.sagaId);
    refusal.remove();
    expect(status.status).toBe('compensation_failed');
    expect(await openLeftovers(held, stuck.sagaId)).toEqual([{ store: 's3-chunk', key: refused }]);
    // Promise 3 holds: the leftover exists and is recorded.
    await expectConsistent(w);

    // An operator (or a bug) marks it resolved without removing it: now it is an unrecorded leftover.
    await w.h.sql`update failed_cleanups set resolved_at = now() where saga_id = ${stuck.sagaId}`;
    await w.h.sql`insert into vector_chunks (document_id, chunk_index, content, embedding, model) values (${stuck.documentId}, 0, 'left', ${[0.5]}, 'local')`;
    const report = await w.check();
    expect(report.violations).toEqual([
      { kind: 'unrecorded_leftover', sagaId: stuck.sagaId, store: 'vector', ownerId: stuck.documentId, count: 1, keys: [stuck.documentId] },
      { kind: 'unrecorded_leftover', sagaId: stuck.sagaId, store: 's3-chunk', ownerId: stuck.operationId, count: 1, keys: [refused] },
    ]);
    // Recorded again, the janitor removes both and the world is consistent.
    await w.h.sql`update failed_cleanups set resolved_at = null where saga_id = ${stuck.sagaId}`;
    await w.h.sql`insert into failed_cleanups (saga_id, step, store, key, error) values (${stuck.sagaId}, 'vector_insert', 'vector', ${stuck.documentId}, 'test')`;
    await cleanWithJanitor(w, held, stuck.sagaId);
    await expectConsistent(w);
  });
  it('a removed version whose data is still there is reported per store, and is no longer checked as committed', async () => {
    const verifiedBefore = (await w.check()).scanned.documentsVerified;
    // The committed document's version marked removed while every store (and the bucket) still holds it.
    await w.h.sql`update document_versions set status = 'removed', removed_at = now() where version_id = ${committed.documentId}`;
    const report = await w.check();
    const remains = (store: string, key: string, count: unknown) => ({
      kind: 'removed_document_remains',
      documentId: committed.documentId,
      versionId: committed.documentId,
      sagaId: null,
      store,
      key,
      count,
    });
    expect(report.violations).toEqual([
      remains('relational', committed.documentId, 1),
      remains('vector', committed.documentId, expect.any(Number)),
      remains('graph', committed.documentId, 2),
      remains('security', committed.documentId, 1),
      remains('s3', `chunks/${committed.operationId}/`, 3),
    ]);
    expect(report.scanned.documentsVerified).toBe(verifiedBefore - 1);
    await w.h.sql`update document_versions set status = 'current', removed_at = null where version_id = ${committed.documentId}`;
    await expectConsistent(w);
  });
});
