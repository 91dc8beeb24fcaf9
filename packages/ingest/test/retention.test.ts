// Retention through the janitor pass, on real PostgreSQL, Redis and S3 (behind the matrix world's fault points):
// with a tiny SAGA_HISTORY_DAYS, exactly the history of ended sagas goes, and the upload operations of those that did
// not commit once their chunks are gone; a committed document, a live saga, and a saga with unresolved leftovers keep
// everything they need, and the live saga then commits correctly.
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IngestRuntime } from '../src/index.ts';
import { ended, expectConsistent, expectReadBack, openLeftovers, stepStatus, submit, until, type SagaIds } from './matrix/outcome.ts';
import { createMatrixWorld, doQueue, type MatrixWorld } from './matrix/world.ts';

const MiB = 1024 * 1024;
let w: MatrixWorld;

beforeAll(async () => {
  w = await createMatrixWorld();
});
afterEach(async () => w.endTest());
afterAll(async () => w?.close());

/** Every row and object that belongs to a saga and its document (`chunks`: objects under the operation's prefix). */
async function footprint(ids: SagaIds): Promise<Record<string, number>> {
  const [r] = await w.h.sql<Record<string, number>[]>`
    select (select count(*)::int from saga_instances where id = ${ids.sagaId}) as instance,
           (select count(*)::int from saga_steps where saga_id = ${ids.sagaId}) as steps,
           (select count(*)::int from saga_events where saga_id = ${ids.sagaId}) as events,
           (select count(*)::int from saga_outbox where saga_id = ${ids.sagaId}) as outbox,
           (select count(*)::int from saga_outbox where saga_id = ${ids.sagaId} and dispatched_at is null) as undelivered,
           (select count(*)::int from failed_cleanups where saga_id = ${ids.sagaId}) as leftovers,
           (select count(*)::int from documents where id = ${ids.documentId}) as document,
           (select count(*)::int from upload_operations where id = ${ids.operationId}) as operation,
           (select count(*)::int from upload_chunks where operation_id = ${ids.operationId}) as manifest`;
  const chunks = (await w.h.storedKeys()).filter((k) => k.startsWith(`chunks/${ids.operationId}/`)).length;
  return { ...r!, chunks };
}

const GONE = { instance: 0, steps: 0, events: 0, outbox: 0, undelivered: 0, leftovers: 0, document: 0, operation: 0, manifest: 0, chunks: 0 };

/** A saga with every store written, waiting before finalize (which `rt` does not consume). */
async function heldBeforeFinalize(rt: IngestRuntime, name: string): Promise<SagaIds> {
  await w.h.writeSource(name, 6 * MiB);
  const ids = await submit(rt, name, { content: 'words for the vector store '.repeat(50), relations: [{ type: 'cites', target: `doc:${name}` }] });
  await until(rt, ids.sagaId, 'relational_insert to succeed', (s) => stepStatus(s, 'relational_insert') === 'succeeded');
  return ids;
}

describe('retention in the janitor pass', () => {
  it('prunes ended sagas and rolled-back operations, keeps committed documents, live sagas and unresolved leftovers', async () => {
    // A committed document, on a runtime consuming every queue (closed with endTest, so the next ones can hold finalize).
    const all = await w.runtimeHolding([]);
    await w.h.writeSource('committed.bin', 6 * MiB);
    const committed = await submit(all, 'committed.bin', { content: 'committed words '.repeat(50) });
    expect((await ended(w, all, committed.sagaId)).status).toBe('completed');
    await w.endTest();

    const rt = await w.runtimeHolding([doQueue('finalize')]);
    const rolledBack = await heldBeforeFinalize(rt, 'rolled-back.bin');
    const failed = await heldBeforeFinalize(rt, 'leftovers.bin');
    const live = await heldBeforeFinalize(rt, 'live.bin');
    await rt.cancel(rolledBack.sagaId);
    expect((await ended(w, rt, rolledBack.sagaId)).status).toBe('compensated');
    // S3 refuses to delete this saga's chunks: it ends compensation_failed with them recorded, and they stay refused.
    const refused = (await w.h.storedKeys()).filter((k) => k.startsWith(`chunks/${failed.operationId}/`));
    expect(refused).toHaveLength(2);
    w.s3.refuseDeletesFor(refused);
    await rt.cancel(failed.sagaId);
    expect((await ended(w, rt, failed.sagaId)).status).toBe('compensation_failed');
    expect((await openLeftovers(rt, failed.sagaId)).map((l) => l.store)).toEqual(['s3-chunk', 's3-chunk']);

    // Within the period (the default 30 days) only delivered outbox rows go.
    const janitor30 = await w.runtime();
    const delivered = (await w.h.sql<{ id: string }[]>`select id from saga_outbox where dispatched_at is not null`).map((r) => r.id);
    expect(delivered.length).toBeGreaterThan(0);
    const first = await janitor30.janitorPass();
    expect(first.retention).toMatchObject({ sagasPruned: 0, operationsPruned: 0 });
    expect(first.retention.outboxDelivered).toBeGreaterThanOrEqual(delivered.length);
    expect(await w.h.sql`select id from saga_outbox where id = any(${delivered}::bigint[])`).toHaveLength(0);
    for (const ids of [committed, rolledBack, failed, live]) expect((await footprint(ids)).events).toBeGreaterThan(0);

    const before = { committed: await footprint(committed), failed: await footprint(failed), live: await footprint(live) };
    expect(before.live).toMatchObject({ instance: 1, operation: 1, manifest: 2, chunks: 2 });
    // (Its outbox row may be delivered, by a relay, and then go: the engine's test covers undelivered rows, with no relay running.)
    const janitor0 = await w.runtime({ SAGA_HISTORY_DAYS: '0', RETENTION_BATCH_SIZE: '1' });
    const pass = await janitor0.janitorPass();
    expect(pass.retention).toMatchObject({ sagasPruned: 2, sagasForgotten: 1, operationsPruned: 1, held: 0 });

    // Committed: the saga's row stays (it names the document), its history goes; the document and its manifest stay.
    expect(await footprint(committed)).toEqual({ ...before.committed, steps: 0, events: 0, outbox: 0 });
    // Two chunks and the bucket manifest object beside them.
    expect(before.committed).toMatchObject({ instance: 1, document: 1, operation: 1, manifest: 2, chunks: 3 });
    await expectReadBack(w, janitor0, committed.documentId, 'committed.bin');
    expect((await janitor0.status(committed.sagaId)).status).toBe('completed');
    // Rolled back: nothing at all is left, the saga's row included.
    expect(await footprint(rolledBack)).toEqual(GONE);
    // Unresolved leftovers and the live saga: untouched.
    expect(await footprint(failed)).toEqual(before.failed);
    expect(before.failed).toMatchObject({ instance: 1, leftovers: 2, operation: 1, chunks: 2 });
    expect({ ...(await footprint(live)), outbox: 0, undelivered: 0 }).toEqual({ ...before.live, outbox: 0, undelivered: 0 });

    // The live saga goes on and commits a document that reads back whole.
    const finalizer = await w.release([doQueue('finalize')]);
    expect((await ended(w, finalizer, live.sagaId)).status).toBe('completed');
    await expectReadBack(w, finalizer, live.documentId, 'live.bin');

    // Once S3 deletes again, the janitor resolves the leftovers and the same pass prunes that saga and its operation.
    w.heal();
    await w.h.sql`update failed_cleanups set next_attempt_at = now() where saga_id = ${failed.sagaId}`;
    const last = await janitor0.janitorPass();
    expect(last.cleanups).toMatchObject({ resolved: 2, failed: 0 });
    expect(last.retention).toMatchObject({ sagasPruned: 2, sagasForgotten: 1, operationsPruned: 1, held: 0 });
    expect(await footprint(failed)).toEqual(GONE);
    expect(await footprint(live)).toMatchObject({ instance: 1, steps: 0, events: 0, outbox: 0, document: 1, operation: 1, manifest: 2, chunks: 3 });
    expect(await w.h.sql`select id from saga_outbox`).toHaveLength(0);
    await expectConsistent(w);
  });

  it('keeps a rolled-back operation while anything is still stored under its prefix, and prunes it once that is gone', async () => {
    const rt = await w.runtimeHolding([doQueue('finalize')]);
    const ids = await heldBeforeFinalize(rt, 'late-put.bin');
    await rt.cancel(ids.sagaId);
    expect((await ended(w, rt, ids.sagaId)).status).toBe('compensated');
    // A PUT that outlived the rollback, which S3 will not let the orphan reaper delete yet.
    const late = `chunks/${ids.operationId}/00000009`;
    await w.h.s3.send(new PutObjectCommand({ Bucket: w.h.bucket, Key: late, Body: 'late' }));
    w.s3.refuseDeletesFor([late]);
    const janitor0 = await w.runtime({ SAGA_HISTORY_DAYS: '0' });
    const held = await janitor0.janitorPass();
    expect(held.retention.held).toBeGreaterThanOrEqual(1);
    expect(await footprint(ids)).toMatchObject({ instance: 1, operation: 1, chunks: 1 });
    expect((await footprint(ids)).events).toBeGreaterThan(0);
    w.heal();
    const pass = await janitor0.janitorPass();
    expect(pass.orphanPrefixes).toContain(`chunks/${ids.operationId}/`);
    expect(pass.retention.operationsPruned).toBeGreaterThanOrEqual(1);
    expect(await footprint(ids)).toEqual(GONE);
  });
});
