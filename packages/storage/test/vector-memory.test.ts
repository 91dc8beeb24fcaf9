// The vector store's text path never holds the whole text: 50 MB of generated text streamed in by a child process.
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
  it('chunks, embeds and inserts 50 MB of streamed text adding a bounded amount of memory, less than the text', async () => {
    const documentId = randomUUID();
    // A small young generation makes the peak follow live data: with V8's default sizing the garbage of
    // 50 000 short-lived chunk strings alone can lift RSS by as much as the text, hiding whether it was kept.
    child = startChild('vector-child', { databaseUrl: f.database.url, documentId, megabytes: 50 }, ['--max-semi-space-size=4']);
    const done = await child.waitForEvent((e) => e.event === 'done' || e.event === 'error');
    expect(done.event, JSON.stringify(done)).toBe('done');
    const result = done.result as { chunks: number; characters: number };
    expect(result.characters).toBe(50_000_000);
    // ~1000 characters per chunk, cut on whitespace within the last fifth: between 50 000 and 62 500 chunks.
    expect(result.chunks).toBeGreaterThanOrEqual(50_000);
    expect(result.chunks).toBeLessThanOrEqual(62_500);
    const [stats] = await f.sql`select count(*)::int as n, sum(length(content))::bigint as chars, max(length(content))::int as longest,
      min(length(content)) filter (where chunk_index < ${result.chunks - 1})::int as shortest
      from vector_chunks where document_id = ${documentId}`;
    expect(stats).toMatchObject({ n: result.chunks, chars: '50000000', longest: 1000 });
    expect(stats!.shortest).toBeGreaterThanOrEqual(800);
    const addedMb = ((Number(done.peakRssKb) - Number(done.baselineRssKb)) * 1024) / 1e6;
    console.info(`vector insert of 50 MB text: ${result.chunks} chunks, added ${addedMb.toFixed(0)} MB over a ${(Number(done.baselineRssKb) / 1024).toFixed(0)} MiB baseline`);
    // Measured: ~40 MB added for 50 MB and ~45 MB for 100 MB of text (old-generation slack, flat in the text
    // size); keeping the text instead adds ~200 MB for 50 MB.
    expect(addedMb).toBeLessThan(64);
  }, 600_000);
});
