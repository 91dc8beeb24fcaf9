// The producer's HTTP API as a fastify instance, built from its collaborators so tests can inject requests.
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { IngestRuntime } from '@ingest/ingest';
import { createOpsContext, registerFleetMetrics } from '@ingest/ops';
import { toErrorResponse } from './error-response.ts';
import { createProducerMetrics } from './producer-metrics.ts';
import { createTokenCheck } from './token-check.ts';
import { CONSOLE_CSP, registerConsoleRoutes } from './console-routes.ts';
import { registerDocumentRoutes } from './routes/documents.ts';
import { registerOperationsRoutes } from './routes/operations.ts';
import { registerOperatorRoutes } from './routes/operator.ts';
import { registerSagaRoutes } from './routes/sagas.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without X-Internal-Token (health probes). */
    public?: boolean;
  }
}

/** Largest inline `content` the request schema accepts, in characters. */
const MAX_INLINE_CONTENT_CHARS = 1024 * 1024;
/** 1 MiB for metadata and relations, plus inline content at up to 4 UTF-8 bytes per character. */
export const BODY_LIMIT_BYTES = 1024 * 1024 + 4 * MAX_INLINE_CONTENT_CHARS;

// Probes and scrapes arrive every few seconds; logging each would drown the requests that matter.
const UNLOGGED_PATHS = new Set(['/healthz', '/metrics']);

/** Collaborators of the producer's HTTP API. */
export interface ProducerAppOptions {
  runtime: IngestRuntime;
  /** The value X-Internal-Token must carry. */
  internalToken: string;
  logger: Logger;
}

/** Builds (does not start) the producer's HTTP API. */
export function buildProducerApp(options: ProducerAppOptions): FastifyInstance {
  const { runtime, internalToken, logger } = options;
  // Widened to fastify's logger interface so the instance is a plain FastifyInstance for the route modules.
  const loggerInstance: FastifyBaseLogger = logger;
  const app = fastify({
    loggerInstance,
    bodyLimit: BODY_LIMIT_BYTES,
    logController: new LogController({ disableRequestLogging: (request) => UNLOGGED_PATHS.has(request.url) }),
  });
  const tokenMatches = createTokenCheck(internalToken);
  const metrics = createProducerMetrics({ stats: () => runtime.stats(), logger });
  const { config } = runtime;
  const ops = createOpsContext({ databaseUrl: config.DATABASE_URL, redisUrl: config.REDIS_URL, queuePrefix: config.QUEUE_PREFIX, queues: runtime.engine.queueNames() });
  app.addHook('onClose', async () => ops.close());
  registerFleetMetrics({ registry: metrics.registry, sql: ops.sql, stuckAfterSeconds: config.STUCK_AFTER_SECONDS, readQueueDepths: () => ops.queueDepths.read(), logger });

  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config.public === true) return;
    const presented = request.headers['x-internal-token'];
    if (typeof presented === 'string' && tokenMatches(presented)) return;
    return reply.code(401).send({ error: { code: 'UNAUTHORIZED', message: 'missing or invalid X-Internal-Token' } });
  });

  // Strict headers on every answer: the console's CSP (no inline script, never framed), no MIME sniffing, no referrer.
  app.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', CONSOLE_CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cross-origin-opener-policy', 'same-origin');
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? '(unmatched)';
    metrics.observeRequest({ method: request.method, route, status: reply.statusCode }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err, request, reply) => {
    const answer = toErrorResponse(err);
    if (answer.internal) request.log.error({ err }, 'request failed');
    else request.log.info({ code: answer.body.error.code, statusCode: answer.statusCode }, 'request rejected');
    return reply.code(answer.statusCode).send(answer.body);
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url}` } }),
  );

  registerOperationsRoutes(app, runtime, metrics.registry);
  registerDocumentRoutes(app, runtime);
  // Before the saga routes: GET /v1/sagas (search) and GET /v1/sagas/:id are distinct routes either way.
  registerOperatorRoutes(app, runtime, ops);
  registerSagaRoutes(app, runtime);
  // Bundled when the app is readied (app.ready() / listen()): fastify awaits registered plugins.
  app.register(async (instance) => registerConsoleRoutes(instance));
  return app;
}
