// createIngestRuntime per app: each builds only what it uses. A producer runtime submits and reads but runs no worker
// and has no embedder; a janitor runtime runs its pass; the worker's runtime runs the saga the producer submitted.
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIngestRuntime, type IngestRuntime } from '../src/index.ts';
import { createIngestHarness, type IngestHarness } from './harness.ts';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

describe('runtimes per app', () => {
  let h: IngestHarness;
  const mine: IngestRuntime[] = [];

  beforeAll(async () => {
    h = await createIngestHarness();
  });
  afterAll(async () => {
    for (const rt of mine) await rt.close();
    await h?.close();
  });

  it('the producer submits and reads, runs no worker; a worker runs the saga; the janitor runs its pass', async () => {
    const producer = await createIngestRuntime(h.config, { role: 'producer', logger });
    mine.push(producer);
    await expect(producer.startWorkers()).rejects.toMatchObject({ code: 'NOT_IN_THIS_APP' });

    const worker = await createIngestRuntime(h.config, { role: 'worker', logger });
    mine.push(worker);
    await worker.startWorkers({ concurrency: 2 });
    const file = await h.writeSource('parts.bin', 300_000);
    const { sagaId } = await producer.submit({ filePath: path.basename(file), metadata: { title: 'parts' } }, { requestedBy: 'test' });
    const done = await h.waitForEnd(producer, sagaId);
    expect(done.status).toBe('completed');
    // Reading back goes through the producer's own uploader and relational store.
    const doc = await producer.getDocument(done.documentId!);
    expect(doc.sizeBytes).toBe(300_000);

    const janitor = await createIngestRuntime(h.config, { role: 'janitor', logger });
    mine.push(janitor);
    await expect(janitor.startWorkers()).rejects.toMatchObject({ code: 'NOT_IN_THIS_APP' });
    const summary = await janitor.janitorPass();
    expect(summary.cleanups.failed).toBe(0);
    expect((await janitor.checkHealth()).ok).toBe(true);
  });
});
