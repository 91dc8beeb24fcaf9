// The API's answers to bad input, through the real producer process: 401 without the right token (but /healthz
// needs none), 400 naming the invalid fields, 422 for sources outside SOURCE_ROOT or not regular files (proven never
// opened: the targets are FIFOs, which an open would block on), and 409 naming the saga that holds a file.
import { constants } from 'node:fs';
import { mkdir, mkdtemp, open, rm, symlink, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopAllProcesses } from '@ingest/testkit';
import { errorOf, type ProducerApi } from './producer-api.ts';
import { createE2eWorld, type E2eWorld } from './world.ts';

const run = promisify(execFile);

describe('the producer process refuses bad input', () => {
  let w: E2eWorld;
  let api: ProducerApi;
  let outside: string;

  beforeAll(async () => {
    w = await createE2eWorld();
    api = (await w.startProducer()).api;
    outside = await mkdtemp(path.join(tmpdir(), 'e2e-outside-'));
  });

  // The producer serves every test of this file; the worker of the 409 test is stopped here too.
  afterAll(async () => {
    await stopAllProcesses();
    await w?.close();
    if (outside) await rm(outside, { recursive: true, force: true });
  });

  const sagaCount = async (): Promise<number> => (await w.sql<{ n: number }[]>`select count(*)::int as n from saga_instances`)[0]?.n ?? 0;

  /** Creates a FIFO: opening it for reading blocks until a writer comes, so a prompt answer proves nobody opened it. */
  async function fifo(file: string): Promise<string> {
    await run('mkfifo', [file]);
    return file;
  }

  /** No process has the FIFO open for reading: a non-blocking open for writing fails with ENXIO exactly then. */
  async function expectNoReader(file: string): Promise<void> {
    const probe = open(file, constants.O_WRONLY | constants.O_NONBLOCK);
    await expect(probe).rejects.toMatchObject({ code: 'ENXIO' });
  }

  it('401 without a token or with a wrong one; /healthz answers without a token', async () => {
    for (const token of [null, 'wrong', `${w.token.slice(0, -1)}x`]) {
      const stats = await api.request('GET', '/v1/stats', { token });
      expect(stats.status).toBe(401);
      expect(errorOf(stats).code).toBe('UNAUTHORIZED');
      const submit = await api.request('POST', '/v1/documents', { token, json: { filePath: 'x.bin', metadata: { title: 'x' } } });
      expect(submit.status).toBe(401);
    }
    expect(await sagaCount()).toBe(0);
    const health = await api.request('GET', '/healthz', { token: null });
    expect(health).toMatchObject({ status: 200, body: { ok: true, checks: { postgres: 'ok', redis: 'ok', s3: 'ok' } } });
  });

  it('400 naming each invalid field', async () => {
    const bad = await api.request('POST', '/v1/documents', {
      json: { filePath: 42, metadata: { securityLevel: 'secret' }, relations: [{ type: '' }], unexpected: true },
    });
    expect(bad.status).toBe(400);
    const error = errorOf(bad);
    expect(error.code).toBe('INVALID_REQUEST');
    const fields = (error.fields ?? []).map((f) => f.field);
    expect(fields).toEqual(expect.arrayContaining(['filePath', 'metadata.title', 'metadata.securityLevel', 'relations.0.type', 'relations.0.target', '(body)']));

    const notJson = await api.request('POST', '/v1/documents', { raw: '{"filePath":', contentType: 'application/json' });
    expect(notJson.status).toBe(400);
    expect(errorOf(notJson).code).toBe('INVALID_REQUEST');
    const badId = await api.request('GET', '/v1/sagas/not-a-uuid');
    expect(badId.status).toBe(400);
    expect(errorOf(badId).fields).toEqual([{ field: 'id', message: 'must be a UUID' }]);
    expect(await sagaCount()).toBe(0);
  });

  it('422 for a path escaping SOURCE_ROOT, an absolute path, a symlink out, a FIFO, a directory, a missing file', async () => {
    await w.writeSource('ok.bin', 1024);
    await writeFile(path.join(outside, 'secret.bin'), 'not for ingestion');
    const outsideFifo = await fifo(path.join(outside, 'pipe'));
    await symlink(outsideFifo, w.sourcePath('link-out'));
    const insideFifo = await fifo(w.sourcePath('pipe-in'));
    await mkdir(w.sourcePath('folder'));
    const escape = path.relative(w.sourceRoot, path.join(outside, 'secret.bin'));
    expect(escape.startsWith('../')).toBe(true);

    const cases = [
      { filePath: escape, code: 'PATH_OUTSIDE_ROOT' },
      { filePath: w.sourcePath('ok.bin'), code: 'PATH_OUTSIDE_ROOT' },
      { filePath: 'link-out', code: 'PATH_OUTSIDE_ROOT' },
      { filePath: 'pipe-in', code: 'NOT_A_REGULAR_FILE' },
      { filePath: 'folder', code: 'NOT_A_REGULAR_FILE' },
      { filePath: 'missing.bin', code: 'SOURCE_NOT_FOUND' },
    ];
    for (const c of cases) {
      // Were a FIFO opened, the answer would never come: 5 s is long for a realpath and a stat.
      const answer = await api.request('POST', '/v1/documents', { json: { filePath: c.filePath, metadata: { title: 'bad' } }, timeoutMs: 5_000 });
      expect(answer.status, c.filePath).toBe(422);
      const error = errorOf(answer);
      expect(error.code, c.filePath).toBe(c.code);
      expect(error.fields, c.filePath).toEqual([{ field: 'filePath', message: error.message }]);
    }
    const badText = await api.request('POST', '/v1/documents', { json: { filePath: 'ok.bin', textPath: 'link-out', metadata: { title: 'bad' } }, timeoutMs: 5_000 });
    expect(badText.status).toBe(422);
    expect(errorOf(badText).fields?.[0]?.field).toBe('textPath');

    await expectNoReader(outsideFifo);
    await expectNoReader(insideFifo);
    expect(await sagaCount()).toBe(0);
  });

  it('409 naming the holder while another saga holds the file; the same Idempotency-Key answers with that saga', async () => {
    await w.writeSource('held.bin', 64 * 1024);
    await symlink('held.bin', w.sourcePath('alias.bin'));
    // No worker runs yet, so the first saga holds the file for as long as this test needs.
    const holder = await api.submit({ filePath: 'held.bin', metadata: { title: 'Holder' } }, { 'Idempotency-Key': 'upstream-42' });
    for (const filePath of ['held.bin', 'alias.bin']) {
      const refused = await api.request('POST', '/v1/documents', { json: { filePath, metadata: { title: 'Second' } } });
      expect(refused.status, filePath).toBe(409);
      expect(errorOf(refused), filePath).toMatchObject({ code: 'LOCKED', holderSagaId: holder });
    }
    const again = await api.request('POST', '/v1/documents', { json: { filePath: 'held.bin', metadata: { title: 'Holder' } }, headers: { 'Idempotency-Key': 'upstream-42' } });
    expect(again).toMatchObject({ status: 202, body: { sagaId: holder } });
    expect(await sagaCount()).toBe(1);

    // Once the holder has ended, the file is free again.
    await w.startWorker('worker-1');
    expect((await api.waitForEnd(holder)).status).toBe('completed');
    const next = await api.submit({ filePath: 'alias.bin', metadata: { title: 'Next' } });
    expect((await api.waitForEnd(next)).status).toBe('completed');
  });
});
