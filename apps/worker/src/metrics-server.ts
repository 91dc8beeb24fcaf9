// The worker's small HTTP server on METRICS_PORT: /readyz (the readiness gate's state: the Kubernetes readiness probe),
// /healthz (a live check of every dependency, for people), /metrics for Prometheus.
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { HealthReport } from '@ingest/ingest';
import type { ReadinessState } from '@ingest/ops';

/** Collaborators of the metrics server. */
export interface MetricsServerOptions {
  registry: Registry;
  checkHealth: () => Promise<HealthReport>;
  /** The readiness gate's last state: answered without probing, so a probe storm costs nothing. */
  readiness: () => ReadinessState;
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
  app.get('/readyz', async (_request, reply) => {
    const state = options.readiness();
    return reply.code(state.ready ? 200 : 503).send(state);
  });
  app.get('/metrics', async (_request, reply) => reply.header('content-type', options.registry.contentType).send(await options.registry.metrics()));
  return app;
}
