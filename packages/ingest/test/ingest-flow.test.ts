// The 9-step ingestion saga in process, on real PostgreSQL, Redis and S3: success and each class of failure.
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3FaultProxy, startTcpProxy, type S3FaultProxy, type TcpProxy } from '@ingest/testkit';
import type { IngestRuntime } from '../src/index.ts';
import { createIngestHarness, type IngestHarness } from './harness.ts';
import { NOTHING_LEFT, leftoversOf } from './leftovers.ts';

let h: IngestHarness;
let rt: IngestRuntime;
const MiB = 1024 * 1024;

beforeAll(async () => {
  h = await createIngestHarness();
  rt = await h.runtime();
  await rt.startWorkers({ concurrency: 2 });
});
afterAll(async () => h.close());

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('ingestion saga', () => {
  it('ingests a file into every store and reads it back byte-identical', async () => {
    await h.writeSource('report.bin', 12 * MiB + 123);
    await h.writeSource('report.txt', Buffer.from('lorem ipsum dolor sit amet '.repeat(400)));
    const { sagaId } = await rt.submit(
      { filePath: 'report.bin', textPath: 'report.txt', metadata: { title: 'Report', category: 'finance', securityLevel: 'confidential', owner: 'ops' }, relations: [{ type: 'cites', target: 'doc:other' }] },
      { requestedBy: 'test-suite' },
    );
    const status = await h.waitForEnd(rt, sagaId);
    expect(status.status).toBe('completed');
    expect(status.success).toBe(true);
    expect(status.progress.percent).toBe(100);
    expect(status.steps.map((s) => s.status)).toEqual(Array(9).fill('succeeded'));
    const doc = await rt.getDocument(status.documentId!);
    expect(doc).toMatchObject({ title: 'Report', category: 'finance', securityLevel: 'confidential', sizeBytes: 12 * MiB + 123, chunkCount: 3 });
    const source = await readFile(path.join(h.root, 'report.bin'));
    expect(doc.sha256).toBe(createHash('sha256').update(source).digest('hex'));
    const content = await rt.openDocumentContent(status.documentId!);
    expect((await readAll(content.stream)).equals(source)).toBe(true);
    // Confidential: every chunk encrypted at rest, and the bucket holds the document's manifest object.
    const chunks = await h.sql<{ nonce: string | null }[]>`select nonce from upload_chunks where operation_id = ${status.sagaId}`;
    expect(chunks.length).toBe(3);
    expect(chunks.every((c) => c.nonce !== null)).toBe(true);
    const manifest = JSON.parse(Buffer.from(await (await h.s3.send(new GetObjectCommand({ Bucket: h.bucket, Key: `chunks/${status.sagaId}/manifest.json` }))).Body!.transformToByteArray()).toString('utf8'));
    expect(manifest).toMatchObject({ documentId: status.documentId, sha256: doc.sha256, encryption: { keyId: 'test-kek' }, metadata: null });
    const vectors = await h.sql`select count(*)::int as n from vector_chunks where document_id = ${status.documentId}`;
    expect(vectors[0]?.n).toBeGreaterThanOrEqual(10);
    const sec = await h.sql`select classification, requested_by from security_records where document_id = ${status.documentId}`;
    expect(sec[0]).toMatchObject({ classification: 'confidential', requested_by: 'test-suite' });
    const edges = await h.sql`select type, target_id from graph_edges where document_id = ${status.documentId}`;
    expect(edges.length).toBe(1);
  });

  it('a source that vanished before validation: failed, nothing to undo, nothing left', async () => {
    const idle = await h.runtime({ QUEUE_PREFIX: `idle${Date.now()}` });
    await h.writeSource('gone.bin', 1024);
    const { sagaId } = await idle.submit({ filePath: 'gone.bin', metadata: { title: 'Gone' } });
    await rm(path.join(h.root, 'gone.bin'));
    await idle.startWorkers({ concurrency: 1 });
    const status = await h.waitForEnd(idle, sagaId);
    expect(status.status).toBe('failed');
    expect(status.failure?.reason).toBe('FILE_NOT_FOUND');
    expect(status.rollbackPerformed).toBe(false);
  });

  it('a fatal error after the upload (text vanished) compensates every completed step; nothing is left anywhere', async () => {
    const late = await h.runtime({ QUEUE_PREFIX: `late${Date.now()}` });
    await h.writeSource('late.bin', 7 * MiB);
    await h.writeSource('late.txt', Buffer.from('late text '.repeat(300)));
    const { sagaId } = await late.submit({ filePath: 'late.bin', textPath: 'late.txt', metadata: { title: 'Late' } });
    await rm(path.join(h.root, 'late.txt')); // before any worker runs: the upload succeeds, vector_insert cannot read the text
    await late.startWorkers({ concurrency: 2 });
    const status = await h.waitForEnd(late, sagaId);
    expect(status.status).toBe('compensated');
    expect(status.rollbackStatus).toBe('success');
    expect(status.failure).toMatchObject({ reason: 'FILE_NOT_FOUND', step: 'vector_insert' });
    expect(status.steps.filter((s) => s.status === 'compensated').map((s) => s.name)).toEqual([
      'validate_file',
      'start_streaming',
      'chunked_upload',
      'security_classification',
      'vector_insert',
    ]);
    const input = (await late.engine.get(sagaId)).input as { documentId: string; operationId: string };
    expect(await leftoversOf(h, h.sql, input.documentId, input.operationId)).toEqual(NOTHING_LEFT);
  });

  it('a downstream store that stays down: rollback records what it could not undo, the janitor finishes it', async () => {
    const url = new URL(h.db.url);
    const proxy: TcpProxy = await startTcpProxy({ targetHost: url.hostname, targetPort: Number(url.port) });
    const graphDown = await h.runtime({ QUEUE_PREFIX: `graph${Date.now()}`, GRAPH_DATABASE_URL: proxy.urlFor(h.db.url) });
    await graphDown.startWorkers({ concurrency: 2 });
    proxy.refuse();
    await h.writeSource('graph.bin', 7 * MiB);
    const { sagaId } = await graphDown.submit({ filePath: 'graph.bin', metadata: { title: 'G' } });
    const status = await h.waitForEnd(graphDown, sagaId);
    expect(status.status).toBe('compensation_failed');
    expect(status.failure).toMatchObject({ reason: 'MAX_RETRIES_EXCEEDED', step: 'graph_insert' });
    expect(status.rollbackStatus).toBe('partial_failure');
    const input = (await graphDown.engine.get(sagaId)).input as { documentId: string; operationId: string };
    // Everything else was undone; the graph's own undo could not reach its database, so it is a recorded leftover.
    const view = await graphDown.engine.get(sagaId);
    expect(view.failedCleanups).toEqual([expect.objectContaining({ store: 'graph', key: input.documentId, resolvedAt: null })]);
    expect(await leftoversOf(h, h.sql, input.documentId, input.operationId)).toEqual(NOTHING_LEFT);
    proxy.accept();
    await h.sql`update failed_cleanups set next_attempt_at = now() where saga_id = ${sagaId}`;
    expect((await graphDown.janitorPass()).cleanups).toMatchObject({ attempted: 1, resolved: 1 });
    await proxy.close();
  });

  it('chunks the server refuses to delete are recorded, then cleaned by the janitor once it is back', async () => {
    const s3 = await startS3FaultProxy({ target: h.config.S3_ENDPOINT! });
    const url = new URL(h.db.url);
    const graphDb = await startTcpProxy({ targetHost: url.hostname, targetPort: Number(url.port) });
    const prt = await h.runtime({ QUEUE_PREFIX: `s3${Date.now()}`, S3_ENDPOINT: s3.endpoint, GRAPH_DATABASE_URL: graphDb.urlFor(h.db.url) });
    await prt.startWorkers({ concurrency: 2 });
    graphDb.refuse(); // graph_insert will fail, so the saga rolls back after its upload
    await h.writeSource('stuck.bin', 11 * MiB);
    const { sagaId } = await prt.submit({ filePath: 'stuck.bin', metadata: { title: 'Stuck' } });
    const input = (await prt.engine.get(sagaId)).input as { documentId: string; operationId: string };
    const refusal = s3.refuseDeletesFor((key) => key === `chunks/${input.operationId}/00000001`);
    const status = await h.waitForEnd(prt, sagaId);
    expect(status.status).toBe('compensation_failed');
    expect(status.rollbackStatus).toBe('partial_failure');
    // The first attempt deleted 2 of 3; the retry could not delete the last one either.
    expect(status.compensationErrors.join()).toMatch(/chunked_upload: CompensationFailed: 1 of 1 chunks could not be deleted/);
    const view = await prt.engine.get(sagaId);
    const chunkLeftovers = view.failedCleanups.filter((l) => l.store === 's3-chunk');
    expect(chunkLeftovers).toEqual([expect.objectContaining({ step: 'chunked_upload', key: `chunks/${input.operationId}/00000001`, resolvedAt: null })]);
    expect((await h.storedKeys()).filter((k) => k.startsWith(`chunks/${input.operationId}/`))).toEqual([`chunks/${input.operationId}/00000001`]);
    // The stores are back: the janitor's next pass removes the leftovers and marks them resolved.
    refusal.remove();
    graphDb.accept();
    await h.sql`update failed_cleanups set next_attempt_at = now() where saga_id = ${sagaId}`;
    const pass = await prt.janitorPass();
    expect(pass.cleanups).toMatchObject({ attempted: view.failedCleanups.length, resolved: view.failedCleanups.length, failed: 0 });
    expect((await prt.engine.get(sagaId)).failedCleanups.every((l) => l.resolvedAt !== null)).toBe(true);
    expect(await leftoversOf(h, h.sql, input.documentId, input.operationId)).toEqual(NOTHING_LEFT);
    await s3.close();
    await graphDb.close();
  });
});
