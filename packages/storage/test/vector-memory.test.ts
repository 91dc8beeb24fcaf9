// The vector store's text path never holds the whole text: 100 MB of generated text streamed in by a child process.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StorageFixture, setUpStorage } from './support.ts';
import { type Child, startChild } from './child.ts';

let f: StorageFixture;
let child: Child | undefined;

beforeAll(async () => {
  f = await setUpStorage();
});
afterAll(async () => {
  child?.process.kill('SIGKILL');
  await f?.close();
});

describe('vector store memory', () => {
  // Throughput-bound work whose assertion is about memory: a busy machine may make it slow, never wrong.
  it('chunks, embeds and inserts 100 MB of streamed text adding a bounded amount of memory, less than the text', async () => {
    const documentId = randomUUID();
    // A small young generation makes the peak follow live data: with V8's default sizing the garbage of
    // 50 000 short-lived chunk strings alone can lift RSS by as much as the text, hiding whether it was kept.
    child = startChild('vector-child', { databaseUrl: f.database.url, documentId, megabytes: 100 }, ['--max-semi-space-size=4']);
    const done = await child.waitForEvent((e) => e.event === 'done' || e.event === 'error');
    expect(done.event, JSON.stringify(done)).toBe('done');
    const result = done.result as { chunks: number; characters: number };
    expect(result.characters).toBe(100_000_000);
    // ~1000 characters per chunk, cut on whitespace within the last fifth: between 100 000 and 125 000 chunks.
    expect(result.chunks).toBeGreaterThanOrEqual(100_000);
    expect(result.chunks).toBeLessThanOrEqual(125_000);
    const [stats] = await f.sql`select count(*)::int as n, sum(length(content))::bigint as chars, max(length(content))::int as longest,
      min(length(content)) filter (where chunk_index < ${result.chunks - 1})::int as shortest
      from vector_chunks where document_id = ${documentId}`;
    expect(stats).toMatchObject({ n: result.chunks, chars: '100000000', longest: 1000 });
    expect(stats!.shortest).toBeGreaterThanOrEqual(800);
    const addedMb = ((Number(done.peakRssKb) - Number(done.baselineRssKb)) * 1024) / 1e6;
    console.info(`vector insert of 100 MB text: ${result.chunks} chunks, added ${addedMb.toFixed(0)} MB over a ${(Number(done.baselineRssKb) / 1024).toFixed(0)} MiB baseline`);
    // What is added is old-generation slack, flat in the text size: 33-68 MB in CI runs with 50 MB of text, as the
    // machine's load varied, hence 100 MB of text here, so that "less than the text" leaves that spread room. Keeping
    // the text instead adds about four times its size (~200 MB for 50 MB).
    expect(addedMb).toBeLessThan(80);
  }, 600_000);
});
