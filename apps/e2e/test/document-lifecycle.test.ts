// The document lifecycle through the producer API and real worker and janitor processes: delete (idempotent, 404,
// 409 against a live replacement, a worker SIGKILLed in the middle, S3 refusing deletes), replace (readers see the
// old version until the new one commits; a failed or refused replacement leaves the old intact) and the listing.
import { rm } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DocumentListPage, DocumentView, IngestionStatus } from '@ingest/ingest';
import { stopAllProcesses, waitFor, type TestProcess } from '@ingest/testkit';
import { errorOf, sha256Of, type ProducerApi } from './producer-api.ts';
import { MiB, NOTHING_LEFT, createE2eWorld, type E2eWorld } from './world.ts';

describe('document lifecycle', () => {
  let w: E2eWorld;
  let api: ProducerApi;
  let producer: TestProcess;

  beforeAll(async () => {
    w = await createE2eWorld();
    ({ api, proc: producer } = await w.startProducer());
  }, 120_000);

  afterEach(async () => {
    // The producer of the world stays; workers are per test.
    await Promise.all(workers.splice(0).map(async (p) => {
      p.kill('SIGKILL');
      await p.exited;
    }));
  });

  afterAll(async () => {
    await stopAllProcesses();
    await w?.close();
  });

  const workers: TestProcess[] = [];
  const startWorker = async (name: string): Promise<TestProcess> => {
    const p = await w.startWorker(name);
    workers.push(p);
    return p;
  };
  const stopWorkers = async () => {
    for (const p of workers.splice(0)) {
      p.kill('SIGTERM');
      await p.exited;
    }
  };
  const del = (id: string) => api.request('DELETE', `/v1/documents/${id}`);
  const get = async (id: string) => api.request('GET', `/v1/documents/${id}`);
  const view = async (id: string): Promise<DocumentView> => {
    const a = await get(id);
    if (a.status !== 200) throw new Error(`GET /v1/documents/${id} answered ${a.status}: ${JSON.stringify(a.body)} ${producer.output().filter((l) => l.includes('"level":50')).slice(-2).join('\n')}`);
    return a.body as DocumentView;
  };
  const ingest = async (name: string, bytes: number, extra: Record<string, unknown> = {}): Promise<{ status: IngestionStatus; data: Buffer; sagaId: string }> => {
    const data = await w.writeSource(name, bytes);
    const sagaId = await api.submit({ filePath: name, metadata: { title: name, category: 'lifecycle' }, content: `text of ${name} `.repeat(50), relations: [{ type: 'cites', target: 'x' }], ...extra });
    const status = await api.waitForEnd(sagaId);
    return { status, data, sagaId };
  };
  const versionLeft = async (versionId: string, operationId: string) => w.leftoversOf({ sagaId: operationId, documentId: versionId, operationId });
  const sagaByKey = async (key: string): Promise<string> =>
    waitFor(async () => (await w.sql<{ id: string }[]>`select id from saga_instances where idempotency_key = ${key}`)[0]?.id, { timeoutMs: 30_000, what: `saga ${key}` });

  it('deletes a document: a second delete answers the same saga, deleting is not served, then 404 and nothing left', async () => {
    await startWorker('w-del');
    const { status, sagaId } = await ingest('del.bin', 6 * MiB);
    expect(status.status).toBe('completed');
    const documentId = status.documentId!;
    await stopWorkers();

    const first = await del(documentId);
    expect(first.status).toBe(202);
    const { sagaId: deleteSaga, statusUrl } = first.body as { sagaId: string; statusUrl: string };
    expect(statusUrl).toBe(`/v1/sagas/${deleteSaga}`);
    const second = await del(documentId);
    expect(second).toMatchObject({ status: 202, body: { sagaId: deleteSaga } });
    // No worker runs: the premise "the saga has not ended" holds for these reads.
    expect(await view(documentId)).toMatchObject({ documentId, status: 'deleting', version: 1 });
    const content = await api.readContent(documentId);
    expect(content.status).toBe(409);
    const listed = (await api.request('GET', '/v1/documents?status=deleting')).body as DocumentListPage;
    expect(listed.documents.map((d) => d.documentId)).toContain(documentId);

    await startWorker('w-del-2');
    expect(await api.waitForEnd(deleteSaga)).toMatchObject({ status: 'completed' });
    expect((await get(documentId)).status).toBe(404);
    expect(errorOf(await del(documentId)).code).toBe('DOCUMENT_NOT_FOUND');
    expect((await del(documentId)).status).toBe(404);
    expect(await versionLeft(documentId, sagaId)).toEqual(NOTHING_LEFT);
    expect(await w.storedChunkKeys(sagaId)).toEqual([]);
    const deleted = (await api.request('GET', '/v1/documents?status=deleted')).body as DocumentListPage;
    expect(deleted.documents.find((d) => d.documentId === documentId)).toMatchObject({ status: 'deleted' });
    expect((await w.checkConsistency()).violations).toEqual([]);
  });

  it('answers 404 for an unknown id and 400 for one that is not a UUID', async () => {
    const unknown = await del('00000000-0000-4000-8000-000000000000');
    expect(unknown.status).toBe(404);
    expect(errorOf(unknown).code).toBe('DOCUMENT_NOT_FOUND');
    const bad = await del('not-a-uuid');
    expect(bad.status).toBe(400);
    expect(errorOf(bad).fields).toEqual([{ field: 'id', message: 'must be a UUID' }]);
  });

  it('refuses a delete while an ingestion of the same file is live, naming it; accepts it once that ended', async () => {
    await startWorker('w-file');
    const { status } = await ingest('same.bin', 1024);
    const documentId = status.documentId!;
    await stopWorkers();
    // No worker: the second ingestion of the file stays live while the delete is asked for.
    const second = await api.submit({ filePath: 'same.bin', metadata: { title: 'same file again' } });
    const refused = await del(documentId);
    expect(refused.status).toBe(409);
    expect(errorOf(refused)).toMatchObject({ code: 'LOCKED', holderSagaId: second });
    await startWorker('w-file-2');
    expect(await api.waitForEnd(second)).toMatchObject({ status: 'completed' });
    const accepted = await del(documentId);
    expect(accepted.status).toBe(202);
    expect(await api.waitForEnd((accepted.body as { sagaId: string }).sagaId)).toMatchObject({ status: 'completed' });
    expect((await w.checkConsistency()).violations).toEqual([]);
  });

  it('replaces a document: readers see the old version until the new commits, then version 2 and the old data removed', async () => {
    await startWorker('w-rep');
    const v1 = await ingest('rep-v1.bin', 6 * MiB);
    const documentId = v1.status.documentId!;
    await stopWorkers();

    const v2data = await w.writeSource('rep-v2.bin', 7 * MiB);
    const replaceSaga = await api.submit({ filePath: 'rep-v2.bin', metadata: { title: 'version two', category: 'lifecycle' }, replaces: documentId });
    // No worker: the replacement cannot have committed, so readers must see version 1, whole.
    expect(await view(documentId)).toMatchObject({ documentId, version: 1, title: 'rep-v1.bin', status: 'active' });
    expect((await api.readContent(documentId)).sha256).toBe(sha256Of(v1.data));
    // A live replacement holds the document: a delete is refused naming it.
    const refused = await del(documentId);
    expect(refused.status).toBe(409);
    expect(errorOf(refused).holderSagaId).toBe(replaceSaga);
    // And so is a second replacement.
    await w.writeSource('rep-v3.bin', 1024);
    const again = await api.request('POST', '/v1/documents', { json: { filePath: 'rep-v3.bin', metadata: { title: 'three' }, replaces: documentId } });
    expect(again.status).toBe(409);
    expect(errorOf(again).holderSagaId).toBe(replaceSaga);

    await startWorker('w-rep-2');
    const done = await api.waitForEnd(replaceSaga);
    expect(done).toMatchObject({ status: 'completed', documentId });
    const after = await view(documentId);
    expect(after).toMatchObject({ documentId, version: 2, title: 'version two', status: 'active' });
    expect(after.versionId).not.toBe(documentId);
    expect((await api.readContent(documentId)).sha256).toBe(sha256Of(v2data));

    const retire = await sagaByKey(`retire-version:${documentId}`);
    expect(await api.waitForEnd(retire)).toMatchObject({ status: 'completed' });
    expect(await versionLeft(documentId, v1.sagaId)).toEqual(NOTHING_LEFT);
    const history = (await view(documentId)).versions;
    expect(history.map((v) => [v.version, v.status])).toEqual([
      [1, 'removed'],
      [2, 'current'],
    ]);
    expect((await w.checkConsistency()).violations).toEqual([]);

    // Deleting the replaced document removes its current version too.
    const d = await del(documentId);
    expect(await api.waitForEnd((d.body as { sagaId: string }).sagaId)).toMatchObject({ status: 'completed' });
    const ids = await w.idsOf(replaceSaga);
    expect(await w.leftoversOf(ids)).toEqual(NOTHING_LEFT);
    expect((await w.checkConsistency()).violations).toEqual([]);
  });

  it('a failed replacement leaves the old version intact; a refused (422) one touches nothing', async () => {
    await startWorker('w-fail');
    const v1 = await ingest('keep-v1.bin', 5 * MiB);
    const documentId = v1.status.documentId!;
    const refused = await api.request('POST', '/v1/documents', { json: { filePath: 'missing.bin', metadata: { title: 'none' }, replaces: documentId } });
    expect(refused.status).toBe(422);
    await stopWorkers();
    // The text vanishes before the replacement can read it: a fatal error in vector_insert, after the upload.
    await w.writeSource('keep-v2.bin', 5 * MiB);
    await w.writeSource('keep-v2.txt', 'replacement text '.repeat(100));
    const sagaId = await api.submit({ filePath: 'keep-v2.bin', textPath: 'keep-v2.txt', metadata: { title: 'doomed' }, replaces: documentId });
    await rm(w.sourcePath('keep-v2.txt'));
    await startWorker('w-fail-2');
    expect(await api.waitForEnd(sagaId)).toMatchObject({ status: 'compensated', failure: { reason: 'FILE_NOT_FOUND' } });
    expect(await view(documentId)).toMatchObject({ documentId, version: 1, title: 'keep-v1.bin', status: 'active' });
    expect((await api.readContent(documentId)).sha256).toBe(sha256Of(v1.data));
    expect(await w.leftoversOf(await w.idsOf(sagaId))).toEqual(NOTHING_LEFT);
    expect((await w.checkConsistency()).violations).toEqual([]);
  });

  it('replaces a document an older worker committed (no head): it becomes version 1 of itself, then version 2', async () => {
    await startWorker('w-legacy');
    const v1 = await ingest('legacy-v1.bin', 2048);
    const documentId = v1.status.documentId!;
    // What a worker older than the lifecycle leaves behind: the document's rows, no head, no history.
    await w.sql`delete from document_versions where document_id = ${documentId}`;
    await w.sql`delete from document_heads where id = ${documentId}`;
    expect(await view(documentId)).toMatchObject({ documentId, version: 1, status: 'active', versions: [] });
    await w.writeSource('legacy-v2.bin', 4096);
    const sagaId = await api.submit({ filePath: 'legacy-v2.bin', metadata: { title: 'legacy two' }, replaces: documentId });
    expect(await api.waitForEnd(sagaId)).toMatchObject({ status: 'completed', documentId });
    expect(await view(documentId)).toMatchObject({ documentId, version: 2, title: 'legacy two' });
    expect(await api.waitForEnd(await sagaByKey(`retire-version:${documentId}`))).toMatchObject({ status: 'completed' });
    expect((await view(documentId)).versions.map((v) => [v.version, v.status])).toEqual([
      [1, 'removed'],
      [2, 'current'],
    ]);
    expect(await versionLeft(documentId, v1.sagaId)).toEqual(NOTHING_LEFT);
    expect((await w.checkConsistency()).violations).toEqual([]);
  });

  it('a worker SIGKILLed in the middle of a delete: another takes over and nothing is left', async () => {
    await startWorker('w-kill');
    const { status, sagaId } = await ingest('kill.bin', 11 * MiB);
    const documentId = status.documentId!;
    // Deletes of the chunks hang at the proxy: the deletion saga is certainly inside remove_data when the kill comes.
    const stall = w.s3Proxy.failWhen({ kind: ['delete', 'deleteObjects'], action: { type: 'stall' } });
    const d = await del(documentId);
    const deleteSaga = (d.body as { sagaId: string }).sagaId;
    await waitFor(() => w.s3Proxy.requests().some((r) => (r.kind === 'delete' || r.kind === 'deleteObjects') && r.fault === 'stall'), { timeoutMs: 60_000, what: 'a stalled delete' });
    const [victim] = workers.splice(0);
    victim!.kill('SIGKILL');
    expect(await victim!.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect((await api.status(deleteSaga)).status).toBe('running');
    stall.remove();
    await startWorker('w-kill-2');
    expect(await api.waitForEnd(deleteSaga, 120_000)).toMatchObject({ status: 'completed' });
    expect((await get(documentId)).status).toBe(404);
    expect(await versionLeft(documentId, sagaId)).toEqual(NOTHING_LEFT);
    expect((await w.checkConsistency()).violations).toEqual([]);
  }, 180_000);

  it('S3 refusing deletes during a delete: leftovers recorded, the document deleted, the janitor finishes them', async () => {
    await startWorker('w-down');
    const { status, sagaId } = await ingest('down.bin', 6 * MiB);
    const documentId = status.documentId!;
    const refusal = w.s3Proxy.refuseDeletesFor((key) => key.startsWith(`chunks/${sagaId}/`));
    const d = await del(documentId);
    const deleteSaga = (d.body as { sagaId: string }).sagaId;
    const s = await api.waitForEnd(deleteSaga);
    expect(s.status).toBe('compensation_failed');
    const cleanups = await w.sql<{ store: string; key: string }[]>`select store, key from failed_cleanups where saga_id = ${deleteSaga} and resolved_at is null`;
    expect(cleanups).toEqual([{ store: 's3-prefix', key: `chunks/${sagaId}/` }]);
    // Deleted for readers; every store but the bucket is already clean, and the bucket's rest is recorded.
    expect((await get(documentId)).status).toBe(404);
    expect(await versionLeft(documentId, sagaId)).toMatchObject({ documents: 0, vectorChunks: 0, graphNodes: 0, graphEdges: 0, securityRecords: 0 });
    expect((await w.storedChunkKeys(sagaId)).length).toBeGreaterThan(0);
    expect((await w.checkConsistency()).violations).toEqual([]);

    refusal.remove();
    await w.sql`update failed_cleanups set next_attempt_at = now() where saga_id = ${deleteSaga}`;
    const janitor = await w.runJanitor();
    expect(janitor.exit, janitor.output.join('\n')).toEqual({ code: 0, signal: null });
    expect(janitor.summary?.cleanups).toMatchObject({ resolved: 1, failed: 0 });
    expect(await versionLeft(documentId, sagaId)).toEqual(NOTHING_LEFT);
    expect((await w.checkConsistency()).violations).toEqual([]);
  }, 180_000);

  it('lists documents in keyset pages with filters, and names each invalid parameter', async () => {
    await startWorker('w-list');
    for (const name of ['l1.bin', 'l2.bin', 'l3.bin']) await ingest(name, 1024, { metadata: { title: name, category: 'listing', securityLevel: 'public' } });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const a = await api.request('GET', `/v1/documents?category=listing&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(a.status).toBe(200);
      const page = a.body as DocumentListPage;
      expect(page.documents.length).toBeLessThanOrEqual(2);
      seen.push(...page.documents.map((d) => d.title ?? ''));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['l3.bin', 'l2.bin', 'l1.bin']);
    const none = (await api.request('GET', '/v1/documents?category=listing&securityLevel=restricted')).body as DocumentListPage;
    expect(none.documents).toEqual([]);
    const future = (await api.request('GET', `/v1/documents?category=listing&createdAfter=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).body as DocumentListPage;
    expect(future.documents).toEqual([]);
    const bad = await api.request('GET', '/v1/documents?limit=0&status=gone&cursor=xyz&sort=asc');
    expect(bad.status).toBe(400);
    expect(errorOf(bad).fields?.map((f) => f.field).sort()).toEqual(['(query)', 'cursor', 'limit', 'status'].sort());
  });
});
