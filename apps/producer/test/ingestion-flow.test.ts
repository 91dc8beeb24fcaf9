// End to end through the producer: a real runtime with workers in this process, the API on a real port, and the
// CLI as a child process. A document goes in, completes, and streams back byte-identical.
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { INGEST_STEPS, type IngestionStatus, type IngestRuntime } from '@ingest/ingest';
import { spawnProcess, stopAllProcesses, waitFor } from '@ingest/testkit';
import { buildProducerApp } from '../src/app.ts';
import { createProducerLogger } from '../src/logger.ts';
import { createTestEnv, REPO_ROOT, type TestEnv } from './support.ts';

const CLI = path.join(REPO_ROOT, 'apps/producer/src/cli.ts');
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('ingestion through the producer', () => {
  let t: TestEnv;
  let runtime: IngestRuntime;
  let app: FastifyInstance;
  let baseUrl: string;

  beforeAll(async () => {
    t = await createTestEnv();
    runtime = await t.runtime();
    await runtime.startWorkers({ concurrency: 2 });
    app = buildProducerApp({ runtime, internalToken: t.token, logger: createProducerLogger('silent') });
    baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  });

  afterEach(async () => {
    expect(await stopAllProcesses()).toEqual([]);
  });

  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  const api = (p: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${baseUrl}${p}`, { ...init, headers: { 'x-internal-token': t.token, 'content-type': 'application/json', ...init.headers } });

  async function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number | null; output: string }> {
    const p = await spawnProcess(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: REPO_ROOT, env: { ...t.env, PRODUCER_URL: baseUrl, ...env }, name: `cli ${args[0] ?? ''}` });
    const exit = await p.exited;
    return { code: exit.code, output: p.output().join('\n') };
  }

  it('ingests a multi-chunk document and streams back exactly its bytes', async () => {
    const bytes = randomBytes(6 * 1024 * 1024 + 12_345);
    const filePath = await t.writeSource('big/annual.bin', bytes);
    const accepted = await api('/v1/documents', {
      method: 'POST',
      body: JSON.stringify({ filePath, metadata: { title: 'Annual report', category: 'finance' }, content: 'Revenue grew. Costs fell.' }),
    });
    expect(accepted.status).toBe(202);
    const { sagaId } = (await accepted.json()) as { sagaId: string };

    const final = await waitFor(
      async () => {
        const s = (await (await api(`/v1/sagas/${sagaId}`)).json()) as IngestionStatus;
        return s.status === 'running' || s.status === 'compensating' ? undefined : s;
      },
      { timeoutMs: 90_000, intervalMs: 200, what: `saga ${sagaId} to end` },
    );
    expect(final).toMatchObject({ status: 'completed', success: true, progress: { bytesDone: bytes.length, bytesTotal: bytes.length } });
    const documentId = final.documentId;
    expect(documentId).toEqual(expect.any(String));

    const doc = await api(`/v1/documents/${documentId}`);
    expect(doc.status).toBe(200);
    expect(await doc.json()).toMatchObject({ documentId, sagaId, title: 'Annual report', sizeBytes: bytes.length, sha256: sha256(bytes) });

    const content = await api(`/v1/documents/${documentId}/content`);
    expect(content.status).toBe(200);
    expect(content.headers.get('content-type')).toBe('application/octet-stream');
    expect(content.headers.get('content-length')).toBe(String(bytes.length));
    expect(content.headers.get('x-content-sha256')).toBe(sha256(bytes));
    expect(sha256(Buffer.from(await content.arrayBuffer()))).toBe(sha256(bytes));

    const stats = (await (await api('/v1/stats')).json()) as { completed: number };
    expect(stats.completed).toBeGreaterThanOrEqual(1);

    // The audit trail tells the saga's story in order: started, each step, completed.
    const trail = (await (await api(`/v1/sagas/${sagaId}/events`)).json()) as { events: { id: number; type: string; step: string | null; toState: string | null }[] };
    const types = trail.events.map((e) => e.type);
    expect(types[0]).toBe('saga_started');
    expect(types.at(-1)).toBe('saga_completed');
    expect(trail.events.filter((e) => e.type === 'step_succeeded').map((e) => e.step)).toEqual([...INGEST_STEPS]);
    expect(trail.events.filter((e) => e.type === 'state_changed').map((e) => e.toState)).toEqual(['uploading', 'verifying', 'processing', 'completed']);
    const after = (await (await api(`/v1/sagas/${sagaId}/events?after=${trail.events.at(-2)!.id}`)).json()) as { events: unknown[] };
    expect(after.events).toHaveLength(1);
  });

  it('CLI: enqueue --wait follows the saga to the end and exits 0, printing the document id', async () => {
    await t.writeSource('cli/memo.bin', randomBytes(200_000));
    const r = await cli(['enqueue', path.join(t.sourceRoot, 'cli/memo.bin'), '--title', 'Memo', '--security-level', 'internal', '--wait']);
    expect(r.output).toMatch(/status: completed/);
    expect(r.output).toMatch(/documentId: [0-9a-f-]{36}/);
    expect(r.output).toMatch(/took: /);
    expect(r.code).toBe(0);
  });

  it('CLI: status prints the saga as JSON', async () => {
    await t.writeSource('cli/note.bin', randomBytes(10_000));
    const enq = await cli(['enqueue', 'cli/note.bin']);
    expect(enq.code).toBe(0);
    const { sagaId } = JSON.parse(enq.output.split('\n')[0] ?? '') as { sagaId: string };
    const r = await cli(['status', sagaId]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.output)).toMatchObject({ sagaId, status: expect.any(String) });
  });

  it('CLI: replace --wait makes version 2, documents lists it, delete --wait removes it, a second delete is a 404', async () => {
    await t.writeSource('cli/life-v1.bin', randomBytes(20_000));
    const v1 = await cli(['enqueue', 'cli/life-v1.bin', '--category', 'cli-life', '--wait']);
    expect(v1.code).toBe(0);
    const documentId = /documentId: ([0-9a-f-]{36})/.exec(v1.output)?.[1];
    if (!documentId) throw new Error(`no document id in ${v1.output}`);
    await t.writeSource('cli/life-v2.bin', randomBytes(30_000));
    const v2 = await cli(['replace', documentId, 'cli/life-v2.bin', '--title', 'Second', '--category', 'cli-life', '--wait']);
    expect(v2.output).toMatch(new RegExp(`documentId: ${documentId}`));
    expect(v2.code).toBe(0);
    const listed = await cli(['documents', '--category', 'cli-life']);
    expect(listed.code).toBe(0);
    const lines = listed.output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { documentId: string; version: number; title: string });
    expect(lines).toEqual([expect.objectContaining({ documentId, version: 2, title: 'Second' })]);
    const gone = await cli(['delete', documentId, '--wait']);
    expect(gone.output).toMatch(/"status":"completed"/);
    expect(gone.code).toBe(0);
    const again = await cli(['delete', documentId]);
    expect(again.code).toBe(2);
    expect(again.output).toMatch(/DOCUMENT_NOT_FOUND \(HTTP 404\)/);
  });

  it('CLI: status of an unknown saga exits 2 with the server message', async () => {
    const r = await cli(['status', '3f2b8c1e-5d4a-4e6f-9a8b-7c6d5e4f3a2b']);
    expect(r.code).toBe(2);
    expect(r.output).toMatch(/error: SAGA_NOT_FOUND \(HTTP 404\): saga 3f2b8c1e-5d4a-4e6f-9a8b-7c6d5e4f3a2b does not exist/);
  });

  it('CLI: a missing source is a 422 naming the field, exit 2', async () => {
    const r = await cli(['enqueue', 'absent.bin']);
    expect(r.code).toBe(2);
    expect(r.output).toMatch(/SOURCE_NOT_FOUND \(HTTP 422\)/);
    expect(r.output).toMatch(/filePath: /);
  });

  it('CLI: usage errors and a missing token exit 2 with a clear message', async () => {
    const none = await cli([]);
    expect(none.code).toBe(2);
    const outside = await cli(['enqueue', '/etc/passwd']);
    expect(outside.code).toBe(2);
    expect(outside.output).toMatch(/not inside SOURCE_ROOT/);
    const noToken = await cli(['status', '3f2b8c1e-5d4a-4e6f-9a8b-7c6d5e4f3a2b'], { INTERNAL_TOKEN: undefined });
    expect(noToken.code).toBe(2);
    expect(noToken.output).toMatch(/INTERNAL_TOKEN is not set/);
    const wrongToken = await cli(['status', '3f2b8c1e-5d4a-4e6f-9a8b-7c6d5e4f3a2b'], { INTERNAL_TOKEN: 'wrong-token-0123456789' });
    expect(wrongToken.code).toBe(2);
    expect(wrongToken.output).toMatch(/UNAUTHORIZED \(HTTP 401\)/);
  });
});
