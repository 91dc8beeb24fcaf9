// A leftover the rollback could not remove is recorded, and the janitor process removes it once the store is back:
// S3 refuses to delete one chunk while a saga rolls back after a fatal downstream error, so the saga ends
// compensation_failed with a failed_cleanups row naming that exact key; with the refusal lifted and the row due,
// one janitor pass (a real process) deletes the object and marks the row resolved.
import { rm } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SagaStats } from '@ingest/saga-core';
import { stopAllProcesses } from '@ingest/testkit';
import { MiB, NOTHING_LEFT, createE2eWorld, type E2eWorld } from './world.ts';

interface CleanupRow {
  store: string;
  key: string;
  resolvedAt: Date | null;
}

describe('a recorded failed cleanup', () => {
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

  const cleanupsOf = (sagaId: string): Promise<CleanupRow[]> =>
    w.sql<CleanupRow[]>`select store, key, resolved_at as "resolvedAt" from failed_cleanups where saga_id = ${sagaId} order by id`;

  it('is cleaned by the janitor process once the store is back', async () => {
    const { api } = await w.startProducer();
    const stats = async (): Promise<SagaStats> => (await api.request('GET', '/v1/stats')).body as SagaStats;
    await w.writeSource('leftover.bin', 15 * MiB);
    await w.writeSource('leftover.txt', 'words for the vector store '.repeat(100));
    // No worker yet: the text disappears before vector_insert can read it, a fatal downstream error.
    const sagaId = await api.submit({ filePath: 'leftover.bin', textPath: 'leftover.txt', metadata: { title: 'Leftover' } });
    await rm(w.sourcePath('leftover.txt'));
    const refusedKey = `chunks/${sagaId}/00000001`;
    const refusal = w.s3Proxy.refuseDeletesFor([refusedKey]);
    await w.startWorker('worker-1');

    const s = await api.waitForEnd(sagaId);
    expect(s).toMatchObject({
      status: 'compensation_failed',
      state: 'rollback_failed',
      success: false,
      rollbackPerformed: true,
      rollbackStatus: 'partial_failure',
      failure: { reason: 'FILE_NOT_FOUND', step: 'vector_insert' },
    });
    expect(s.errors[0]).toMatch(/^FILE_NOT_FOUND: .*textPath/);
    expect(s.compensationErrors).toEqual([expect.stringMatching(/^chunked_upload: .*1 of 1 chunks could not be deleted/)]);
    // Every other compensation still ran: only the refused chunk (and its manifest row) is left.
    expect(await cleanupsOf(sagaId)).toEqual([{ store: 's3-chunk', key: refusedKey, resolvedAt: null }]);
    expect(await w.storedChunkKeys(sagaId)).toEqual([refusedKey]);
    const ids = await w.idsOf(sagaId);
    expect(await w.leftoversOf(ids)).toEqual({ ...NOTHING_LEFT, manifestRows: 1, s3Objects: 1 });
    expect(await stats()).toMatchObject({ compensationFailed: 1, pendingCleanups: 1 });

    // The store is back, and the row is due now rather than after its backoff.
    refusal.remove();
    await w.sql`update failed_cleanups set next_attempt_at = now() where saga_id = ${sagaId}`;
    const janitor = await w.runJanitor();
    expect(janitor.exit, janitor.output.join('\n')).toEqual({ code: 0, signal: null });
    expect(janitor.summary?.cleanups).toEqual({ attempted: 1, resolved: 1, failed: 0 });

    const [row] = await cleanupsOf(sagaId);
    expect(row?.resolvedAt).toBeInstanceOf(Date);
    expect(await w.leftoversOf(ids)).toEqual(NOTHING_LEFT);
    expect(await stats()).toMatchObject({ pendingCleanups: 0 });
    const report = await w.checkConsistency();
    expect(report.violations).toEqual([]);
  });
});
