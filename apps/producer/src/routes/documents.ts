// POST /v1/documents (start an ingestion or a replacement), GET /v1/documents (a page of documents),
// GET /v1/documents/:id (version and history) and its streamed content, DELETE /v1/documents/:id (a deletion saga).
import type { FastifyInstance } from 'fastify';
import type { IngestRuntime } from '@ingest/ingest';
import { optionalHeader, parseUuid } from '../request-headers.ts';

/** Registers the document routes on `app`. */
export function registerDocumentRoutes(app: FastifyInstance, runtime: IngestRuntime): void {
  app.post('/v1/documents', { config: { scope: 'submit' } }, async (request, reply) => {
    const idempotencyKey = optionalHeader(request.headers, 'Idempotency-Key');
    // The audit names the authenticated caller; a user it acts for (X-Requested-By) is recorded beside it, never instead.
    const onBehalfOf = optionalHeader(request.headers, 'X-Requested-By');
    const caller = request.caller ?? 'producer';
    const requestedBy = onBehalfOf === undefined ? caller : `${onBehalfOf} via ${caller}`;
    const { sagaId } = await runtime.submit(request.body, { requestedBy, ...(idempotencyKey === undefined ? {} : { idempotencyKey }) });
    // A repeated idempotency key answers like the first call: the work is (still) accepted.
    return reply.code(202).send({ sagaId, statusUrl: `/v1/sagas/${sagaId}` });
  });

  app.get('/v1/documents', { config: { scope: 'read' } }, async (request) => runtime.listDocuments(request.query));

  app.delete<{ Params: { id: string } }>('/v1/documents/:id', { config: { scope: 'submit' } }, async (request, reply) => {
    const onBehalfOf = optionalHeader(request.headers, 'X-Requested-By');
    const caller = request.caller ?? 'producer';
    const requestedBy = onBehalfOf === undefined ? caller : `${onBehalfOf} via ${caller}`;
    // A second delete while the first runs answers with the same saga.
    const { sagaId } = await runtime.deleteDocument(parseUuid(request.params.id, 'id'), { requestedBy });
    return reply.code(202).send({ sagaId, statusUrl: `/v1/sagas/${sagaId}` });
  });

  app.get<{ Params: { id: string } }>('/v1/documents/:id', { config: { scope: 'read' } }, async (request) => runtime.getDocument(parseUuid(request.params.id, 'id')));

  app.get<{ Params: { id: string } }>('/v1/documents/:id/content', { config: { scope: 'read' } }, async (request, reply) => {
    const { stream, sizeBytes, sha256 } = await runtime.openDocumentContent(parseUuid(request.params.id, 'id'));
    // Documents can be many GB: the stream goes out as it is read, never gathered in memory.
    return reply
      .header('content-type', 'application/octet-stream')
      .header('content-length', sizeBytes)
      .header('x-content-sha256', sha256)
      .send(stream);
  });
}
