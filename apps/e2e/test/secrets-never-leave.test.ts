// Secrets never leave (issue 14): the producer, a worker and the janitor run as processes at debug level with a
// distinctive producer token, S3 secret key and embedder API key; a success path and the failure paths (refused
// token, invalid request, source deleted, the embedder refusing with the key echoed back in its error body, S3
// refusing every PUT, a cancellation) are driven through the API. Then every line the processes printed (stdout
// and stderr) and every API answer (status, headers, body) is searched for the three secrets: none may appear.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { type IncomingMessage, type ServerResponse, createServer, type Server } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnProcess, stopAllProcesses, type TestProcess } from '@ingest/testkit';
import { type ApiAnswer, type ProducerApi, connectProducer } from './producer-api.ts';
import { MiB, REPO_ROOT, createE2eWorld, type E2eWorld } from './world.ts';

const S3_SECRET = `s3-secret-${randomBytes(12).toString('hex')}`;
const EMBEDDER_KEY = `sk-embed-${randomBytes(12).toString('hex')}`;
const DIMENSIONS = 32;

/** An OpenAI-compatible embeddings endpoint that insists on the key, and echoes it back when told to refuse. */
async function startEmbedder(): Promise<{ url: string; authorized: () => number; close: () => Promise<void> }> {
  let authorized = 0;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const pieces: Buffer[] = [];
    req.on('data', (p: Buffer) => pieces.push(p));
    req.on('end', () => {
      const auth = req.headers.authorization ?? '';
      const body = JSON.parse(Buffer.concat(pieces).toString('utf8')) as { input: string[] };
      if (auth !== `Bearer ${EMBEDDER_KEY}` || body.input.some((t) => t.includes('REFUSE-ME'))) {
        // As some providers do: the error body quotes the credentials it was given.
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `Incorrect API key provided: ${auth}` } }));
        return;
      }
      authorized += 1;
      const data = body.input.map((_, index) => ({ index, embedding: Array.from({ length: DIMENSIONS }, (_v, i) => (i === index % DIMENSIONS ? 1 : 0)) }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, authorized: () => authorized, close: () => new Promise((r) => server.close(() => r())) };
}

describe('secrets never leave', () => {
  let w: E2eWorld;
  let api: ProducerApi;
  let embedder: Awaited<ReturnType<typeof startEmbedder>>;
  const processes: TestProcess[] = [];
  const answers: { route: string; answer: ApiAnswer }[] = [];

  /** Every request of this test goes through here, so that its whole answer is searched afterwards. */
  async function call(method: string, route: string, options: Parameters<ProducerApi['request']>[2] = {}): Promise<ApiAnswer> {
    const answer = await api.request(method, route, options);
    answers.push({ route: `${method} ${route}`, answer });
    return answer;
  }

  async function ingest(body: unknown): Promise<{ sagaId: string; end: Record<string, unknown> }> {
    const submitted = await call('POST', '/v1/documents', { json: body });
    expect(submitted.status).toBe(202);
    const { sagaId } = submitted.body as { sagaId: string };
    await api.waitForEnd(sagaId);
    const end = await call('GET', `/v1/sagas/${sagaId}`);
    await call('GET', `/v1/sagas/${sagaId}/events`);
    return { sagaId, end: end.body as Record<string, unknown> };
  }

  const node = async (name: string, main: string, args: string[] = []): Promise<TestProcess> => {
    const env = { ...w.env, LOG_LEVEL: 'debug', S3_SECRET_ACCESS_KEY: S3_SECRET, EMBEDDINGS_URL: embedder.url, EMBEDDINGS_API_KEY: EMBEDDER_KEY, EMBEDDING_DIMENSIONS: String(DIMENSIONS) };
    // Every line kept: the search below must see all of them.
    const proc = await spawnProcess(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, main), ...args], { cwd: REPO_ROOT, env, name, maxLines: 1_000_000 });
    processes.push(proc);
    return proc;
  };

  beforeAll(async () => {
    embedder = await startEmbedder();
    w = await createE2eWorld();
    const producer = await node('producer', 'apps/producer/src/main.ts');
    const { address } = JSON.parse((await producer.waitForOutput(/"msg":"producer listening"/, 90_000)).line) as { address: string };
    api = connectProducer(address, w.token);
    const worker = await node('worker', 'apps/worker/src/main.ts');
    await worker.waitForOutput(/"msg":"worker ready"/, 90_000);
  });

  afterAll(async () => {
    await stopAllProcesses();
    await w?.close();
    await embedder?.close();
  });

  it('success and failure paths, then no log line and no API answer holds the token, the S3 secret or the embedder key', async () => {
    // Success: a document with text, embedded through the keyed endpoint, read back.
    await w.writeSource('ok.bin', 6 * MiB);
    const ok = await ingest({ filePath: 'ok.bin', metadata: { title: 'fine' }, content: 'plain words to embed '.repeat(200) });
    expect(ok.end).toMatchObject({ status: 'completed' });
    expect(embedder.authorized()).toBeGreaterThan(0);
    const documentId = ok.end.documentId as string;
    await call('GET', `/v1/documents/${documentId}`);
    const content = await api.readContent(documentId);
    expect(content.status).toBe(200);
    await call('GET', '/v1/stats');
    await call('GET', '/metrics');
    await call('GET', '/healthz');

    // Refusals at the door.
    expect((await call('GET', '/v1/stats', { token: `${w.token}x` })).status).toBe(401);
    expect((await call('GET', '/v1/stats', { token: null })).status).toBe(401);
    expect((await call('POST', '/v1/documents', { json: { filePath: '../etc/passwd', metadata: {} } })).status).toBe(400);
    expect((await call('POST', '/v1/documents', { json: { filePath: 'missing.bin', metadata: { title: 'x' } } })).status).toBe(422);

    // The embedder refuses and quotes the key: the saga rolls back, its error names the refusal, not the key.
    await w.writeSource('refused.bin', 1024);
    const refused = await ingest({ filePath: 'refused.bin', metadata: { title: 'refused' }, content: 'REFUSE-ME please' });
    expect(refused.end).toMatchObject({ status: 'compensated', failure: { reason: 'EMBEDDING_FAILED' } });
    expect(JSON.stringify(refused.end)).toMatch(/Incorrect API key provided: Bearer \*\*\*/);

    // S3 refuses every PUT (an expired credential, as S3 would say): rolled back.
    const denied = w.s3Proxy.failWhen({ kind: 'put', action: { type: 'error', status: 403, code: 'SignatureDoesNotMatch', message: 'The request signature we calculated does not match' } });
    await w.writeSource('s3-refused.bin', 1024);
    const s3Refused = await ingest({ filePath: 's3-refused.bin', metadata: { title: 's3 refused' } });
    expect(s3Refused.end).toMatchObject({ status: 'compensated' });
    denied.remove();

    // The source deleted before its worker reads it; a cancellation.
    await w.writeSource('gone.bin', 1024);
    const slow = w.s3Proxy.failWhen({ kind: 'put', action: { type: 'delay', ms: 2_000 } });
    const submitted = await call('POST', '/v1/documents', { json: { filePath: 'gone.bin', metadata: { title: 'gone' } } });
    const goneId = (submitted.body as { sagaId: string }).sagaId;
    await w.writeSource('cancel.bin', 12 * MiB);
    const cancelSubmitted = await call('POST', '/v1/documents', { json: { filePath: 'cancel.bin', metadata: { title: 'cancel' } } });
    const cancelId = (cancelSubmitted.body as { sagaId: string }).sagaId;
    await rm(w.sourcePath('gone.bin'));
    expect((await call('POST', `/v1/sagas/${cancelId}/cancel`)).status).toBe(202);
    for (const id of [goneId, cancelId]) {
      await api.waitForEnd(id);
      await call('GET', `/v1/sagas/${id}`);
      await call('GET', `/v1/sagas/${id}/events`);
    }
    slow.remove();

    // A janitor pass prints its configuration and summary too.
    const janitor = await node('janitor', 'apps/janitor/src/main.ts');
    expect((await janitor.exited).code).toBe(0);

    const lines = processes.flatMap((p) => p.output().map((line) => ({ proc: p.name, line })));
    expect(lines.length).toBeGreaterThan(50);
    const bodies = answers.map(({ route, answer }) => ({ route, text: `${answer.status} ${JSON.stringify([...answer.headers])} ${JSON.stringify(answer.body)}` }));
    // The searches can find: the secrets are in use (the key reached the embedder; the token opened the API).
    expect(answers.some((a) => a.answer.status === 200)).toBe(true);
    for (const [what, secret] of [
      ['INTERNAL_TOKEN', w.token],
      ['S3_SECRET_ACCESS_KEY', S3_SECRET],
      ['EMBEDDINGS_API_KEY', EMBEDDER_KEY],
    ] as const) {
      expect({ what, inLogs: lines.filter((l) => l.line.includes(secret)) }).toEqual({ what, inLogs: [] });
      expect({ what, inAnswers: bodies.filter((b) => b.text.includes(secret)) }).toEqual({ what, inAnswers: [] });
    }
  });
});
