// GET /healthz (no token: probes carry none) and GET /metrics.
import type { FastifyInstance } from 'fastify';
import type { HealthReport, IngestRuntime } from '@ingest/ingest';
import type { Registry } from 'prom-client';

/** Registers the health and metrics routes on `app`. */
export function registerOperationsRoutes(app: FastifyInstance, runtime: IngestRuntime, registry: Registry): void {
  app.get('/healthz', { config: { public: true } }, async (request, reply) => {
    let report: HealthReport;
    try {
      report = await runtime.checkHealth();
    } catch (err) {
      request.log.warn({ err }, 'health check threw');
      report = { ok: false, checks: { runtime: 'health check failed' } };
    }
    return reply.code(report.ok ? 200 : 503).send(report);
  });

  app.get('/metrics', { config: { scope: 'read' } }, async (_request, reply) => reply.header('content-type', registry.contentType).send(await registry.metrics()));
}
