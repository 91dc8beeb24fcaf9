// What every matrix row asserts after its fault: the outcome class, exact leftovers, and the checker's verdict.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { expect } from 'vitest';
import { waitFor } from '@ingest/testkit';
import type { IngestRuntime, IngestionStatus, Violation } from '../../src/index.ts';
import { NOTHING_LEFT, leftoversOf } from '../leftovers.ts';
import type { MatrixWorld } from './world.ts';

/** The ids a saga's input carries. */
export interface SagaIds {
  sagaId: string;
  documentId: string;
  operationId: string;
}

/** Reads a saga's document and operation ids from its stored input. */
export async function idsOf(rt: IngestRuntime, sagaId: string): Promise<SagaIds> {
  const input = (await rt.engine.get(sagaId)).input as { documentId: string; operationId: string };
  return { sagaId, documentId: input.documentId, operationId: input.operationId };
}

/** Submits a file and returns the saga's ids. */
export async function submit(rt: IngestRuntime, filePath: string, extra: Record<string, unknown> = {}): Promise<SagaIds> {
  const { sagaId } = await rt.submit({ filePath, metadata: { title: filePath }, ...extra }, { requestedBy: 'matrix' });
  return idsOf(rt, sagaId);
}

/** Waits until the saga is terminal and returns its status. */
export function ended(w: MatrixWorld, rt: IngestRuntime, sagaId: string, timeoutMs = 90_000): Promise<IngestionStatus> {
  return w.h.waitForEnd(rt, sagaId, timeoutMs);
}

/** Polls the saga's view until `probe` holds (e.g. a step reached a status). */
export async function until(rt: IngestRuntime, sagaId: string, what: string, probe: (s: IngestionStatus) => boolean, timeoutMs = 60_000): Promise<IngestionStatus> {
  return waitFor(
    async () => {
      const s = await rt.status(sagaId);
      return probe(s) ? s : undefined;
    },
    { timeoutMs, intervalMs: 25, what },
  );
}

/** The status of one step of a saga's view. */
export function stepStatus(s: IngestionStatus, step: string): string | undefined {
  return s.steps.find((x) => x.name === step)?.status;
}

/** Nothing of the document is left in any store, bucket or manifest. */
export async function expectNothingLeft(w: MatrixWorld, ids: SagaIds): Promise<void> {
  expect(await leftoversOf(w.h, w.h.sql, ids.documentId, ids.operationId)).toEqual(NOTHING_LEFT);
}

/** The checker finds nothing wrong anywhere in the world. */
export async function expectConsistent(w: MatrixWorld): Promise<void> {
  const report = await w.check();
  expect(report.violations satisfies Violation[]).toEqual([]);
  expect(report.ok).toBe(true);
}

/** Unresolved leftovers of a saga as (store, key) pairs, sorted. */
export async function openLeftovers(rt: IngestRuntime, sagaId: string): Promise<{ store: string; key: string }[]> {
  const view = await rt.engine.get(sagaId);
  return view.failedCleanups
    .filter((l) => l.resolvedAt === null)
    .map((l) => ({ store: l.store, key: l.key }))
    .sort((a, b) => (a.store + a.key < b.store + b.key ? -1 : 1));
}

/**
 * With the faults lifted, janitor passes (bounded) until every leftover of the saga is resolved. The backoff of a
 * leftover is skipped by making it due now, the one thing a test may not wait for.
 */
export async function cleanWithJanitor(w: MatrixWorld, rt: IngestRuntime, sagaId: string): Promise<void> {
  w.heal();
  await waitFor(
    async () => {
      await w.h.sql`update failed_cleanups set next_attempt_at = now() where saga_id = ${sagaId} and resolved_at is null`;
      await rt.janitorPass();
      return (await openLeftovers(rt, sagaId)).length === 0;
    },
    { timeoutMs: 30_000, intervalMs: 250, what: `janitor to resolve every leftover of saga ${sagaId}` },
  );
}

/** The committed document reads back byte-identical to the source as it is now. */
export async function expectReadBack(w: MatrixWorld, rt: IngestRuntime, documentId: string, sourceName: string): Promise<void> {
  const content = await rt.openDocumentContent(documentId);
  const hash = createHash('sha256');
  for await (const piece of content.stream) hash.update(piece as Buffer);
  expect(hash.digest('hex')).toBe(await w.sourceDigest(sourceName));
}

/** The output the chunked_upload step recorded. */
export async function uploadOutput(rt: IngestRuntime, sagaId: string): Promise<{ chunkCount: number; chunksUploaded: number; chunksSkipped: number; resumed: boolean }> {
  const view = await rt.engine.get(sagaId);
  return view.steps.find((s) => s.name === 'chunked_upload')?.output as { chunkCount: number; chunksUploaded: number; chunksSkipped: number; resumed: boolean };
}

/**
 * What an operator does by hand when the system could not: delete what is left of the saga's document everywhere
 * and close its leftover records. Only tests of known bugs call it, so that one red row does not redden the rest.
 */
export async function purgeByHand(w: MatrixWorld, ids: SagaIds): Promise<void> {
  w.heal();
  for (const key of await w.h.storedKeys()) {
    if (key.startsWith(`chunks/${ids.operationId}/`)) await w.h.s3.send(new DeleteObjectCommand({ Bucket: w.h.bucket, Key: key }));
  }
  const sql = w.h.sql;
  await sql`delete from upload_chunks where operation_id = ${ids.operationId}`;
  await sql`delete from documents where id = ${ids.documentId}`;
  await sql`delete from vector_chunks where document_id = ${ids.documentId}`;
  await sql`delete from graph_edges where document_id = ${ids.documentId}`;
  await sql`delete from graph_nodes where id = ${ids.documentId}`;
  await sql`delete from security_records where document_id = ${ids.documentId}`;
  await sql`update failed_cleanups set resolved_at = now() where saga_id = ${ids.sagaId} and resolved_at is null`;
}

/** Rewrites bytes of a source in place (same size unless past its end): a source modified under its saga. */
export async function overwrite(file: string, offset: number, bytes: Buffer): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    await fh.write(bytes, 0, bytes.length, offset);
  } finally {
    await fh.close();
  }
}
