// A worker process SIGKILLed in the middle of an upload: the other worker of a two-worker fleet takes the step over
// once the dead one's job lock expires, resumes from the manifest without uploading the stored chunks again, and the
// document is committed byte-identical. The kill is a real SIGKILL of the process group; the slowness that keeps the
// upload going long enough is a delay on PUTs at the S3 fault proxy.
import { readFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stopAllProcesses, waitFor } from '@ingest/testkit';
import { sha256Of } from './producer-api.ts';
import { MiB, createE2eWorld, type E2eWorld } from './world.ts';

// The dead worker's job lock and the stalled-job check follow STEP_LEASE_MS (the runtime ties them together): takeover
// comes about one lease after the kill. A generous bound, since the machine may be busy.
const RECOVERY_MS = 150_000;
const CHUNKS = 6;

describe('a worker SIGKILLed mid-upload', () => {
  let w: E2eWorld;

  beforeAll(async () => {
    w = await createE2eWorld();
  });

  afterEach(async () => {
    await stopAllProcesses();
  });

  afterAll(async () => {
    await w?.close();
  });

  it(
    'another worker process resumes from the manifest without re-uploading finished chunks; content byte-identical',
    async () => {
      // The producer first: it migrates the fresh database, so the workers start on a migrated one.
      const { api } = await w.startProducer();
      const fleet = await Promise.all([w.startWorker('worker-1'), w.startWorker('worker-2')]);
      const bytes = await w.writeSource('crash.bin', CHUNKS * 5 * MiB);
      const slow = w.s3Proxy.failWhen({ kind: 'put', action: { type: 'delay', ms: 800 } });
      const sagaId = await api.submit({ filePath: 'crash.bin', metadata: { title: 'Survives a crash' } });
      await api.waitUntil(sagaId, 'upload progress', (s) => s.progress.bytesDone > 0);
      await waitFor(async () => (await w.manifestKeys(sagaId)).length >= 2, { timeoutMs: 60_000, what: 'two chunks in the manifest' });

      // Kill the worker that runs the upload: its id in the saga's lease names its pid.
      const [lease] = await w.sql<{ owner: string | null }[]>`select lease_owner as owner from saga_instances where id = ${sagaId}`;
      const ownerPid = Number(/:(\d+):[0-9a-f]+$/.exec(lease?.owner ?? '')?.[1]);
      const victim = fleet.find((p) => p.pid === ownerPid);
      const survivor = fleet.find((p) => p.pid !== ownerPid);
      if (!victim || !survivor) throw new Error(`no worker of the fleet (${fleet.map((p) => p.pid).join(', ')}) holds the lease ${lease?.owner}`);
      victim.kill('SIGKILL');
      expect(await victim.exited).toEqual({ code: null, signal: 'SIGKILL' });
      slow.remove();
      // Its only writer is dead, so the manifest is now exactly what was committed before the kill.
      const committed = await w.manifestKeys(sagaId);
      expect(committed.length).toBeGreaterThanOrEqual(2);
      expect(committed.length).toBeLessThan(CHUNKS);
      expect((await api.status(sagaId)).status).toBe('running');

      const s = await api.waitForEnd(sagaId, RECOVERY_MS);
      expect(s).toMatchObject({ status: 'completed', success: true, rollbackPerformed: false, errors: [] });
      // The killed attempt counts as one.
      expect(s.steps.find((step) => step.name === 'chunked_upload')).toMatchObject({ status: 'succeeded', attempts: 2 });

      const [row] = await w.sql<{ output: Record<string, unknown> }[]>`
        select output from saga_steps where saga_id = ${sagaId} and name = 'chunked_upload'`;
      expect(row?.output).toMatchObject({
        resumed: true,
        chunkCount: CHUNKS,
        totalBytes: bytes.length,
        sha256: sha256Of(bytes),
        chunksSkipped: committed.length,
        chunksUploaded: CHUNKS - committed.length,
      });
      // What the server was asked: each chunk committed before the kill was PUT exactly once.
      const puts = w.s3Proxy.requests().filter((r) => r.kind === 'put');
      for (const key of committed) expect(puts.filter((r) => r.key === key), key).toHaveLength(1);
      expect(await w.manifestKeys(sagaId)).toHaveLength(CHUNKS);

      const documentId = s.documentId;
      if (documentId === null) throw new Error('a completed saga reports its document id');
      expect(await api.readContent(documentId)).toEqual({ status: 200, sha256: sha256Of(bytes), bytes: bytes.length, headerSha256: sha256Of(bytes) });
      expect(sha256Of(await readFile(w.sourcePath('crash.bin')))).toBe(sha256Of(bytes));
      // The survivor did the rest and is still serving.
      expect(survivor.output().join('\n')).toMatch(/"msg":"resuming upload"/);
      expect(await Promise.race([survivor.exited, Promise.resolve('running')])).toBe('running');
      const report = await w.checkConsistency();
      expect(report.violations).toEqual([]);
    },
    RECOVERY_MS + 60_000,
  );
});
