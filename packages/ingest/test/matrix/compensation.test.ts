// seeds/004 §4 "Compensation (rollback) phase failures" (C1-C3, C5-C7), §5 "Database rollback failures" (D1-D5)
// and edge case 2. The saga is held before `finalize` (every store written), then rolled back: by cancellation
// (a user request) for the rows about one failing undo, and by a real insert failure for edge case 2. The undo
// under test fails at the network (a store's database refused by its TCP proxy, S3 refused) or at the server
// (S3 answering deletes with errors, or refusing them). Every row ends compensation_failed with exactly the
// leftovers recorded, then a janitor pass (faults lifted) removes them and the checker finds nothing wrong.
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { IngestRuntime, RowStore } from '../../src/index.ts';
import { cleanWithJanitor, ended, expectConsistent, expectNothingLeft, openLeftovers, purgeByHand, stepStatus, submit, until, type SagaIds } from './outcome.ts';
import { chunkKey, operationKeyPrefix } from '@ingest/storage';
import { waitFor } from '@ingest/testkit';
import { STEPS, chunkAt, createMatrixWorld, doQueue, undoQueue, type MatrixWorld } from './world.ts';

const MiB = 1024 * 1024;
const SIZE = 15 * MiB;
let w: MatrixWorld;

beforeAll(async () => {
  w = await createMatrixWorld();
});
afterEach(async () => w.endTest());
afterAll(async () => w?.close());

/** A saga with every store written, waiting before finalize. */
async function heldBeforeFinalize(name: string): Promise<{ rt: IngestRuntime; ids: SagaIds }> {
  const rt = await w.runtimeHolding([doQueue('finalize')]);
  await w.h.writeSource(name, SIZE);
  const ids = await submit(rt, name, { content: 'words for the vector store '.repeat(120), relations: [{ type: 'cites', target: `doc:${name}` }] });
  await until(rt, ids.sagaId, 'relational_insert to succeed', (s) => stepStatus(s, 'relational_insert') === 'succeeded');
  return { rt, ids };
}

async function chunkKeysOf(ids: SagaIds): Promise<string[]> {
  return (await w.h.storedKeys()).filter((k) => k.startsWith(`chunks/${ids.operationId}/`)).sort();
}

async function compensationOrder(sagaId: string): Promise<string[]> {
  const rows = await w.h.sql<{ step: string }[]>`select step from saga_events where saga_id = ${sagaId} and type = 'compensation_started' order by id`;
  return [...new Set(rows.map((r) => r.step))];
}

const LIFO = ['relational_insert', 'graph_insert', 'vector_insert', 'security_classification', 'chunked_upload', 'start_streaming', 'validate_file'];

describe('compensation phase (seeds/004 §4)', () => {
  it.each([
    { row: 'C1 chunk deletion fails (1 chunk)', refuse: (keys: string[]) => keys.slice(1, 2) },
    { row: 'C2 chunk deletion fails (N chunks)', refuse: (keys: string[]) => keys },
  ])('$row: the other chunks and every other store are undone; exactly the refused keys are recorded, then cleaned', async ({ refuse }) => {
    const { rt, ids } = await heldBeforeFinalize(`refuse-${Math.random().toString(36).slice(2, 6)}.bin`);
    const keys = await chunkKeysOf(ids);
    expect(keys).toHaveLength(3);
    const refused = refuse(keys);
    w.s3.refuseDeletesFor(refused);
    await rt.cancel(ids.sagaId);
    const status = await ended(w, rt, ids.sagaId);
    expect(status).toMatchObject({ status: 'compensation_failed', state: 'rollback_failed', rollbackStatus: 'partial_failure', failure: { reason: 'CANCELLED' } });
    // The last attempt's message: it counts what was still there (the first attempt deleted the others).
    expect(status.compensationErrors).toEqual([expect.stringMatching(new RegExp(`^chunked_upload: CompensationFailed: ${refused.length} of ${refused.length} chunks could not be deleted`))]);
    expect(await openLeftovers(rt, ids.sagaId)).toEqual(refused.map((key) => ({ store: 's3-chunk', key })));
    expect(await chunkKeysOf(ids)).toEqual(refused);
    expect(await compensationOrder(ids.sagaId)).toEqual(LIFO);
    const alerts = await w.h.sql<{ type: string }[]>`select type from saga_alerts where saga_id = ${ids.sagaId} order by id`;
    expect(alerts.map((a) => a.type)).toEqual(['COMPENSATION_FAILED', 'ROLLBACK_FAILED']);
    // Promise 3: leftovers exist and are recorded, so the world is consistent even before the janitor.
    await expectConsistent(w);
    await cleanWithJanitor(w, rt, ids.sagaId);
    await expectNothingLeft(w, ids);
    await expectConsistent(w);
  });

  it('C3 storage backend unreachable during the chunk cleanup: every remaining chunk is recorded by its exact key, then cleaned', async () => {
    const { rt, ids } = await heldBeforeFinalize('unreachable.bin');
    const keys = await chunkKeysOf(ids);
    w.s3Net.refuse();
    await rt.cancel(ids.sagaId);
    const status = await ended(w, rt, ids.sagaId);
    expect(status).toMatchObject({ status: 'compensation_failed', rollbackStatus: 'partial_failure' });
    // DESIGN §4: "what could not be deleted becomes failed_cleanups rows with exact keys" (finding F2, fixed in a90d017).
    expect(await openLeftovers(rt, ids.sagaId)).toEqual([
      ...keys.map((key) => ({ store: 's3-chunk', key })),
      { store: 's3-prefix', key: operationKeyPrefix('chunks/', ids.operationId) },
    ]);
    await expectConsistent(w);
    await cleanWithJanitor(w, rt, ids.sagaId);
    await expectNothingLeft(w, ids);
    await expectConsistent(w);
  });

  it('C3 with objects the manifest does not know (PUTs that landed after their upload gave up) and S3 unreachable during the cleanup: they must still be recorded', async () => {
    const rt = await w.runtimeHolding([undoQueue('chunked_upload')]);
    await w.h.writeSource('unlisted.bin', SIZE);
    // Both chunks in flight are held, so no manifest row is ever committed.
    const hold = w.s3.failWhen({ kind: 'put', key: chunkAt('any'), times: 2, action: { type: 'stall' } });
    const ids = await submit(rt, 'unlisted.bin');
    onTestFinished(() => purgeByHand(w, ids));
    await waitFor(() => hold.matches() === 2, { what: 'chunks 0 and 1 to be on their way' });
    await rt.cancel(ids.sagaId);
    await until(rt, ids.sagaId, 'the rollback to start', (s) => s.status === 'compensating');
    // The PUTs the cancelled upload gave up on reach the server after all: objects with no manifest row.
    hold.remove();
    await waitFor(async () => (await chunkKeysOf(ids)).length === 2, { what: 'the abandoned PUTs to land' });
    const stored = await chunkKeysOf(ids);
    expect(await w.h.sql`select 1 from upload_chunks where operation_id = ${ids.operationId}`).toHaveLength(0);
    w.s3Net.refuse();
    await w.release([undoQueue('chunked_upload')]);
    const status = await ended(w, rt, ids.sagaId);
    expect(status.status).toBe('compensation_failed');
    // Finding F3 (fixed): with the listing impossible, the operation's prefix itself is recorded, so objects no
    // manifest row names are accounted for too.
    const recorded = await openLeftovers(rt, ids.sagaId);
    expect(recorded).toEqual([{ store: 's3-prefix', key: operationKeyPrefix('chunks/', ids.operationId) }]);
    expect(stored.every((key) => key.startsWith(recorded[0]!.key))).toBe(true);
    await expectConsistent(w);
    // S3 is back: one janitor pass deletes everything under the prefix and resolves the entry.
    w.heal();
    await cleanWithJanitor(w, rt, ids.sagaId);
    expect(await chunkKeysOf(ids)).toEqual([]);
    await expectConsistent(w);
  });

  it('E2 storage fails during compensation after a failed vector insert: some deletes fail; exactly those chunks are recorded, then cleaned', async () => {
    const rt = await w.runtimeHolding([undoQueue('vector_insert')]);
    await w.h.writeSource('edge2.bin', SIZE);
    w.db.vector.refuse();
    const ids = await submit(rt, 'edge2.bin', { content: 'vector text '.repeat(200) });
    const rolling = await until(rt, ids.sagaId, 'the vector insert to fail and the rollback to start', (s) => s.status === 'compensating');
    expect(rolling.failure).toMatchObject({ reason: 'MAX_RETRIES_EXCEEDED', step: 'vector_insert' });
    w.db.vector.accept();
    const keys = await chunkKeysOf(ids);
    // The batch delete fails, and so do single deletes of every other key: a partial rollback.
    w.s3.failWhen({ kind: 'deleteObjects', action: { type: 'error', status: 503, code: 'ServiceUnavailable', message: 'going offline' } });
    const failing = keys.filter((_, i) => i % 2 === 0);
    w.s3.failWhen({ kind: 'delete', key: new RegExp(`^(${failing.join('|')})$`), action: { type: 'error', status: 503, code: 'ServiceUnavailable', message: 'going offline' } });
    await w.release([undoQueue('vector_insert')]);
    const status = await ended(w, rt, ids.sagaId);
    expect(status).toMatchObject({ status: 'compensation_failed', rollbackStatus: 'partial_failure' });
    expect(await openLeftovers(rt, ids.sagaId)).toEqual(failing.map((key) => ({ store: 's3-chunk', key })));
    expect(await chunkKeysOf(ids)).toEqual(failing);
    await expectConsistent(w);
    await cleanWithJanitor(w, rt, ids.sagaId);
    await expectNothingLeft(w, ids);
    await expectConsistent(w);
  });
});

describe('database rollback failures (seeds/004 §5, and §4 C5-C7)', () => {
  it.each<{ row: string; down: RowStore[] }>([
    { row: 'D1 security record remove fails', down: ['security'] },
    { row: 'D2/C5 vector DB remove fails (orphan embeddings)', down: ['vector'] },
    { row: 'D3/C6 graph DB remove fails (orphan node and edges)', down: ['graph'] },
    { row: 'D4/C7 relational DB remove fails (orphan metadata row)', down: ['relational'] },
    { row: 'D5 multiple DB removes fail', down: ['relational', 'graph', 'vector', 'security'] },
  ])('$row: logged and continued (LIFO); exactly the failed removes are recorded; the janitor removes them once the database is back', async ({ down }) => {
    const { rt, ids } = await heldBeforeFinalize(`db-${down.join('-')}.bin`);
    for (const store of down) w.db[store].refuse();
    await rt.cancel(ids.sagaId);
    const status = await ended(w, rt, ids.sagaId);
    for (const store of down) w.db[store].accept();
    expect(status).toMatchObject({ status: 'compensation_failed', rollbackStatus: 'partial_failure' });
    expect(await openLeftovers(rt, ids.sagaId)).toEqual(down.map((store) => ({ store, key: ids.documentId })).sort((a, b) => (a.store < b.store ? -1 : 1)));
    // Best effort: every other compensation still ran, in reverse order, and the chunks are gone.
    expect(await compensationOrder(ids.sagaId)).toEqual(LIFO);
    const failedSteps = status.steps.filter((s) => s.status === 'compensation_failed').map((s) => s.name);
    expect(failedSteps.sort()).toEqual(down.map((s) => ({ relational: 'relational_insert', graph: 'graph_insert', vector: 'vector_insert', security: 'security_classification' })[s]).sort());
    expect(await chunkKeysOf(ids)).toEqual([]);
    expect(STEPS.filter((s) => stepStatus(status, s) === 'compensated' || stepStatus(status, s) === 'compensation_failed')).toHaveLength(LIFO.length);
    await expectConsistent(w);
    await cleanWithJanitor(w, rt, ids.sagaId);
    await expectNothingLeft(w, ids);
    await expectConsistent(w);
  });
});
