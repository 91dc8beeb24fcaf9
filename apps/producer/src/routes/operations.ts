// GET /healthz and /readyz (no token: probes carry none) and GET /metrics.
import type { FastifyInstance } from 'fastify';
import { Gauge, type Registry } from 'prom-client';
import type { HealthReport, IngestRuntime } from '@ingest/ingest';
import type { ReadinessState } from '@ingest/ops';

/**
 * Registers the health, readiness and metrics routes on `app`. /healthz checks every dependency now; /readyz answers
 * the readiness gate's state (the Kubernetes readiness probe), or the live check when the app runs without a gate.
 */
export function registerOperationsRoutes(app: FastifyInstance, runtime: IngestRuntime, registry: Registry, readiness?: () => ReadinessState): void {
  const liveCheck = async (log: FastifyInstance['log']): Promise<HealthReport> => {
    try {
      return await runtime.checkHealth();
    } catch (err) {
      log.warn({ err }, 'health check threw');
      return { ok: false, checks: { runtime: 'health check failed' } };
    }
  };
  app.get('/healthz', { config: { public: true } }, async (request, reply) => {
    const report = await liveCheck(request.log);
    return reply.code(report.ok ? 200 : 503).send(report);
  });
  app.get('/readyz', { config: { public: true } }, async (request, reply) => {
    if (!readiness) {
      const report = await liveCheck(request.log);
      return reply.code(report.ok ? 200 : 503).send({ ready: report.ok, checks: report.checks, probedAt: new Date().toISOString() });
    }
    const state = readiness();
    return reply.code(state.ready ? 200 : 503).send(state);
  });
  if (readiness) {
    new Gauge({
      name: 'ingest_ready',
      help: 'This process is ready and takes work (1) or not (0)',
      registers: [registry],
      collect() {
        this.set(readiness().ready ? 1 : 0);
      },
    });
  }

  app.get('/metrics', { config: { scope: 'read' } }, async (_request, reply) => reply.header('content-type', registry.contentType).send(await registry.metrics()));
}
