// The text chunker, both embedders (the HTTP one against a real local HTTP server) and the vector store on PostgreSQL.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkText, createHttpEmbedder, createLocalEmbedder, createVectorStore } from '../src/index.ts';
import { type StorageFixture, errorOf, setUpStorage } from './support.ts';

let f: StorageFixture;

beforeAll(async () => {
  f = await setUpStorage();
});
afterAll(async () => {
  await f?.close();
});

async function collect(source: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const s of source) out.push(s);
  return out;
}

describe('chunkText', () => {
  it('cuts after whitespace near the boundary and loses no character', async () => {
    const text = Array.from({ length: 300 }, (_, i) => `word${i}`).join(' ');
    const chunks = await collect(chunkText([text], 100));
    expect(chunks.join('')).toBe(text);
    for (const c of chunks.slice(0, -1)) {
      expect(c.length).toBeLessThanOrEqual(100);
      expect(c.length).toBeGreaterThanOrEqual(80);
      expect(c.endsWith(' ')).toBe(true);
    }
  });

  it('cuts hard without whitespace but never inside a surrogate pair, and decodes UTF-8 split across pieces', async () => {
    const text = '😀'.repeat(150);
    expect((await collect(chunkText([text], 101))).every((c) => !/[\ud800-\udbff]$/.test(c))).toBe(true);
    const bytes = Buffer.from(`grüße ${'ä'.repeat(500)} 😀 end`);
    const pieces = Array.from({ length: Math.ceil(bytes.length / 7) }, (_, i) => bytes.subarray(i * 7, i * 7 + 7));
    expect((await collect(chunkText(Readable.from(pieces), 50))).join('')).toBe(bytes.toString());
  });

  it('yields nothing for an empty text', async () => {
    expect(await collect(chunkText([], 100))).toEqual([]);
  });
});

describe('local embedder', () => {
  it('is deterministic, unit-length, and scores related texts above unrelated ones', async () => {
    const e = createLocalEmbedder({ dimensions: 128 });
    const [a, b, c, a2] = await e.embed(['the storage saga verifies chunks', 'a saga that verifies stored chunks', 'zebra quantum violin', 'the storage saga verifies chunks']);
    const dot = (x: number[], y: number[]) => x.reduce((s, v, i) => s + v * y[i]!, 0);
    expect(a).toEqual(a2);
    expect(a).toHaveLength(128);
    expect(dot(a!, a!)).toBeCloseTo(1, 6);
    expect(dot(a!, b!)).toBeGreaterThan(dot(a!, c!) + 0.2);
    expect(() => createLocalEmbedder({ dimensions: 2 })).toThrow(/dimensions/);
  });
});

describe('HTTP embedder', () => {
  let server: http.Server;
  let url: string;
  const seen: Array<{ path: string; auth: string | undefined; body: { model: string; input: string[]; dimensions?: number } }> = [];
  let answer: (input: string[]) => { status: number; body: unknown } = (input) => ({
    status: 200,
    // Out of order on purpose: clients must place vectors by `index`.
    body: { data: input.map((t, index) => ({ index, embedding: [t.length, index, 1] })).reverse(), model: 'm' },
  });

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (d: Buffer) => (raw += d.toString()));
      req.on('end', () => {
        const body = JSON.parse(raw) as { model: string; input: string[] };
        seen.push({ path: req.url ?? '', auth: req.headers.authorization, body });
        const { status, body: out } = answer(body.input);
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(out));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => {
    server?.close();
  });

  it('posts the batch to /v1/embeddings with the key and model, and orders vectors by index', async () => {
    const e = createHttpEmbedder({ url, apiKey: 'sk-test', model: 'text-embed', dimensions: 3 });
    expect(await e.embed(['a', 'bbb'])).toEqual([[1, 0, 1], [3, 1, 1]]);
    expect(seen.at(-1)).toEqual({ path: '/v1/embeddings', auth: 'Bearer sk-test', body: { model: 'text-embed', input: ['a', 'bbb'], dimensions: 3 } });
    await createHttpEmbedder({ url: `${url}/v1`, model: 'm' }).embed(['x']);
    expect(seen.at(-1)?.path).toBe('/v1/embeddings');
  });

  it('maps throttling to retryable STORAGE_UNAVAILABLE and a refusal or a bad answer to EMBEDDING_FAILED', async () => {
    const e = createHttpEmbedder({ url, model: 'm', dimensions: 3 });
    answer = () => ({ status: 429, body: { error: 'slow down' } });
    expect(await errorOf(() => e.embed(['a']))).toMatchObject({ code: 'STORAGE_UNAVAILABLE', retryable: true });
    answer = () => ({ status: 400, body: { error: 'bad model' } });
    expect(await errorOf(() => e.embed(['a']))).toMatchObject({ code: 'EMBEDDING_FAILED', retryable: false });
    answer = (input) => ({ status: 200, body: { data: input.map((_, index) => ({ index, embedding: [1, 2] })) } });
    expect(await errorOf(() => e.embed(['a']))).toMatchObject({ code: 'EMBEDDING_FAILED' });
    answer = () => ({ status: 200, body: { data: [] } });
    expect(await errorOf(() => e.embed(['a']))).toMatchObject({ code: 'EMBEDDING_FAILED' });
  });
});

describe('vector store', () => {
  it('inserts streamed text in batches, finds similar chunks, trims on a shorter replay, removes idempotently', async () => {
    const store = createVectorStore(f.sql, createLocalEmbedder({ dimensions: 64 }), { chunkChars: 100, batchSize: 4 });
    const documentId = randomUUID();
    const paragraphs = Array.from({ length: 30 }, (_, i) => (i === 17 ? 'Penguins huddle on the antarctic ice shelf in winter storms. ' : `Paragraph ${i} talks about invoices, ledgers and accounting. `));
    const text = paragraphs.join('');
    const result = await store.insertText(documentId, Readable.from([Buffer.from(text.slice(0, 777)), text.slice(777)]));
    expect(result.characters).toBe(text.length);
    expect(result.chunks).toBe(await store.count(documentId));
    expect(result.chunks).toBeGreaterThanOrEqual(Math.ceil(text.length / 100));
    const rows = await f.sql`select string_agg(content, '' order by chunk_index) as text, bool_and(array_length(embedding, 1) = 64) as dims from vector_chunks where document_id = ${documentId}`;
    expect(rows[0]).toEqual({ text, dims: true });

    const [best] = await store.similar('penguins on antarctic ice', { limit: 3, documentId });
    expect(best?.content).toContain('Penguins');
    expect(best!.score).toBeGreaterThan(0.3);

    const shorter = await store.insertText(documentId, [text.slice(0, 250)]);
    expect(await store.count(documentId)).toBe(shorter.chunks);
    expect(await store.remove(documentId)).toEqual({ removed: shorter.chunks });
    expect(await store.remove(documentId)).toEqual({ removed: 0 });
  });

  it('stops with CANCELLED when the signal aborts', async () => {
    const store = createVectorStore(f.sql, createLocalEmbedder({ dimensions: 16 }), { chunkChars: 20, batchSize: 1 });
    const controller = new AbortController();
    controller.abort();
    expect(await errorOf(() => store.insertText(randomUUID(), ['x'.repeat(100)], { signal: controller.signal }))).toMatchObject({ code: 'CANCELLED' });
  });
});
