// POST /v1/wiki-generations: starts seeds/003's wiki-generation saga; its status is GET /v1/sagas/:id like any saga.
import type { FastifyInstance } from 'fastify';
import type { IngestRuntime } from '@ingest/ingest';
import { WIKI_SAGA, parseWikiRequest } from '@ingest/wiki';
import { optionalHeader } from '../request-headers.ts';

/** Registers the wiki-generation route on `app`. */
export function registerWikiRoutes(app: FastifyInstance, runtime: IngestRuntime): void {
  app.post('/v1/wiki-generations', { config: { scope: 'submit' } }, async (request, reply) => {
    const c = runtime.config;
    if (!(c.FILESYSTEM_SERVICE_URL && c.GIT_SERVICE_URL && c.WIKI_SERVICE_TOKEN)) {
      return reply.code(503).send({ error: { code: 'WIKI_NOT_CONFIGURED', message: 'set FILESYSTEM_SERVICE_URL, GIT_SERVICE_URL and WIKI_SERVICE_TOKEN to run wiki generations' } });
    }
    const input = await parseWikiRequest(request.body, { sourceRoot: c.SOURCE_ROOT, maxFiles: c.WIKI_MAX_FILES });
    const idempotencyKey = optionalHeader(request.headers, 'Idempotency-Key');
    const { sagaId } = await runtime.engine.start(WIKI_SAGA, input, idempotencyKey === undefined ? {} : { idempotencyKey });
    return reply.code(202).send({ sagaId, statusUrl: `/v1/sagas/${sagaId}` });
  });
}
