// GET /v1/sagas/:id (status), GET /v1/sagas/:id/events (audit trail), POST /v1/sagas/:id/cancel, GET /v1/stats.
import type { FastifyInstance } from 'fastify';
import type { IngestRuntime } from '@ingest/ingest';
import { parseUuid } from '../request-headers.ts';

/** Registers the saga routes on `app`. */
export function registerSagaRoutes(app: FastifyInstance, runtime: IngestRuntime): void {
  app.get<{ Params: { id: string } }>('/v1/sagas/:id', { config: { scope: 'read' } }, async (request) => runtime.status(parseUuid(request.params.id, 'id')));

  app.get<{ Params: { id: string }; Querystring: { after?: string; limit?: string } }>('/v1/sagas/:id/events', { config: { scope: 'read' } }, async (request) => {
    const sagaId = parseUuid(request.params.id, 'id');
    const afterId = Number(request.query.after ?? 0);
    const limit = Number(request.query.limit ?? 500);
    const events = await runtime.events(sagaId, {
      afterId: Number.isInteger(afterId) && afterId > 0 ? afterId : 0,
      limit: Number.isInteger(limit) && limit > 0 ? limit : 500,
    });
    return { sagaId, events };
  });

  app.post<{ Params: { id: string } }>('/v1/sagas/:id/cancel', { config: { scope: 'operate' } }, async (request, reply) => {
    const sagaId = parseUuid(request.params.id, 'id');
    const { accepted, state } = await runtime.cancel(sagaId);
    return reply.code(202).send({ sagaId, accepted, state });
  });

  app.get('/v1/stats', { config: { scope: 'read' } }, async () => runtime.stats());
}
