// The worker's small HTTP server: /healthz for probes and /metrics for Prometheus, on METRICS_PORT.
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { HealthReport } from '@ingest/ingest';

/** Collaborators of the metrics server. */
export interface MetricsServerOptions {
  registry: Registry;
  checkHealth: () => Promise<HealthReport>;
  logger: Logger;
}

/** Builds (does not start) the server; probes are frequent, so requests are not logged. */
export function buildMetricsServer(options: MetricsServerOptions): FastifyInstance {
  const loggerInstance: FastifyBaseLogger = options.logger;
  const app = fastify({ loggerInstance, logController: new LogController({ disableRequestLogging: true }) });
  app.get('/healthz', async (request, reply) => {
    let report: HealthReport;
    try {
      report = await options.checkHealth();
    } catch (err) {
      request.log.warn({ err }, 'health check threw');
      report = { ok: false, checks: { runtime: 'health check failed' } };
    }
    return reply.code(report.ok ? 200 : 503).send(report);
  });
  app.get('/metrics', async (_request, reply) => reply.header('content-type', options.registry.contentType).send(await options.registry.metrics()));
  return app;
}
