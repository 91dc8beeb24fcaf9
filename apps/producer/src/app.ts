// The producer's HTTP API as a fastify instance, built from its collaborators so tests can inject requests.
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { IngestRuntime } from '@ingest/ingest';
import { createOpsContext, registerFleetMetrics, type ReadinessState } from '@ingest/ops';
import { toErrorResponse } from './error-response.ts';
import { createProducerMetrics } from './producer-metrics.ts';
import { createTokenCheck } from './token-check.ts';
import { SCOPES, type ApiToken, type Scope } from './api-tokens.ts';
import { createAuthFailureLimiter } from './auth-failure-limiter.ts';
import { CONSOLE_CSP, registerConsoleRoutes } from './console-routes.ts';
import { registerDocumentRoutes } from './routes/documents.ts';
import { registerOperationsRoutes } from './routes/operations.ts';
import { registerOperatorRoutes } from './routes/operator.ts';
import { registerSagaRoutes } from './routes/sagas.ts';
import { registerWikiRoutes } from './routes/wiki-generations.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without X-Internal-Token (health probes). */
    public?: boolean;
    /** The scope a caller's token needs; a route that names none needs `operate`. */
    scope?: Scope;
  }
  interface FastifyRequest {
    /** The name of the token the request came with (never its secret); set once authenticated. */
    caller?: string;
  }
}

/** Largest inline `content` the request schema accepts, in characters. */
const MAX_INLINE_CONTENT_CHARS = 1024 * 1024;
/** 1 MiB for metadata and relations, plus inline content at up to 4 UTF-8 bytes per character. */
export const BODY_LIMIT_BYTES = 1024 * 1024 + 4 * MAX_INLINE_CONTENT_CHARS;

// Probes and scrapes arrive every few seconds; logging each would drown the requests that matter.
const UNLOGGED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** Collaborators of the producer's HTTP API. */
export interface ProducerAppOptions {
  runtime: IngestRuntime;
  /** The accepted tokens (INTERNAL_TOKENS); at least one of `tokens` and `internalToken` is required. */
  tokens?: readonly ApiToken[];
  /** A single token with every scope (INTERNAL_TOKEN), named "internal". */
  internalToken?: string;
  /** Failed authentications one client address may make per minute before it is answered 429. Default 30. */
  authFailuresPerMinute?: number;
  /** The readiness gate's state, for /readyz and the ingest_ready gauge; without it /readyz checks live. */
  readiness?: () => ReadinessState;
  logger: Logger;
}

/** Builds (does not start) the producer's HTTP API. */
export function buildProducerApp(options: ProducerAppOptions): FastifyInstance {
  const { runtime, logger } = options;
  const tokens = [...(options.internalToken === undefined ? [] : [{ name: 'internal', secret: options.internalToken, scopes: new Set(SCOPES) }]), ...(options.tokens ?? [])];
  if (tokens.length === 0) throw new Error('buildProducerApp needs at least one token');
  // Widened to fastify's logger interface so the instance is a plain FastifyInstance for the route modules.
  const loggerInstance: FastifyBaseLogger = logger;
  const app = fastify({
    loggerInstance,
    bodyLimit: BODY_LIMIT_BYTES,
    logController: new LogController({ disableRequestLogging: (request) => UNLOGGED_PATHS.has(request.url) }),
  });
  const findToken = createTokenCheck(tokens);
  const limiter = createAuthFailureLimiter({ maxFailures: options.authFailuresPerMinute ?? 30 });
  const metrics = createProducerMetrics({ stats: () => runtime.stats(), logger });
  app.decorateRequest('caller', undefined);
  const { config } = runtime;
  const ops = createOpsContext({ databaseUrl: config.DATABASE_URL, prepare: config.DATABASE_PREPARE, redisUrl: config.REDIS_URL, redisCluster: config.REDIS_CLUSTER, redisSeeds: config.REDIS_CLUSTER_NODES, queuePrefix: config.QUEUE_PREFIX, queues: runtime.engine.queueNames() });
  app.addHook('onClose', async () => ops.close());
  registerFleetMetrics({ registry: metrics.registry, sql: ops.sql, stuckAfterSeconds: config.STUCK_AFTER_SECONDS, readQueueDepths: () => ops.queueDepths.read(), logger });

  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config.public === true) return;
    const retryAfter = limiter.retryAfterSeconds(request.ip);
    if (retryAfter > 0) {
      metrics.observeAuth('unknown', 'rate_limited');
      return reply
        .code(429)
        .header('retry-after', retryAfter)
        .send({ error: { code: 'RATE_LIMITED', message: `too many failed authentications from this address; retry in ${retryAfter} s` } });
    }
    const presented = request.headers['x-internal-token'];
    const token = findToken(typeof presented === 'string' ? presented : undefined);
    if (!token) {
      limiter.recordFailure(request.ip);
      metrics.observeAuth('unknown', 'unauthorized');
      request.log.warn({ remoteAddress: request.ip, tokenPresented: typeof presented === 'string' }, 'unknown or missing X-Internal-Token');
      return reply.code(401).send({ error: { code: 'UNAUTHORIZED', message: 'missing or invalid X-Internal-Token' } });
    }
    request.caller = token.name;
    // Every later line of this request, its "request completed" included, names the caller.
    request.log = request.log.child({ caller: token.name });
    reply.log = request.log;
    // An unmatched URL (404) needs a valid token but no scope.
    const scope: Scope | undefined = request.routeOptions.url === undefined ? undefined : (request.routeOptions.config.scope ?? 'operate');
    if (scope !== undefined && !token.scopes.has(scope)) {
      metrics.observeAuth(token.name, 'forbidden');
      request.log.warn({ scope }, 'token lacks the scope of this route');
      return reply.code(403).send({ error: { code: 'FORBIDDEN', message: `token "${token.name}" lacks the "${scope}" scope this route needs` } });
    }
    metrics.observeAuth(token.name, 'accepted');
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

  registerOperationsRoutes(app, runtime, metrics.registry, options.readiness);
  registerDocumentRoutes(app, runtime);
  // Before the saga routes: GET /v1/sagas (search) and GET /v1/sagas/:id are distinct routes either way.
  registerOperatorRoutes(app, runtime, ops);
  registerSagaRoutes(app, runtime);
  registerWikiRoutes(app, runtime);
  // Bundled when the app is readied (app.ready() / listen()): fastify awaits registered plugins.
  app.register(async (instance) => registerConsoleRoutes(instance));
  return app;
}
