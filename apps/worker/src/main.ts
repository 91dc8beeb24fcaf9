// Entry point of a worker: configuration → ingestion runtime → readiness gate → queue consumers, with /readyz, /healthz
// and /metrics on METRICS_PORT. Consumers start on the first passing readiness probe and pause while the worker is not
// ready (SOURCE_ROOT missing or unreadable, PostgreSQL, Redis or S3 unreachable), so such a worker takes no job.
// SIGTERM drains (running steps hand their job back, locks stay with their sagas) and exits 0.
import closeWithGrace from 'close-with-grace';
import pino from 'pino';
import { startIngestRuntime, loadConfig, redactedConfig } from '@ingest/ingest';
import { startReadinessGate, type ReadinessGate } from '@ingest/ops';
import { startAlertRelay } from './alert-relay.ts';
import { buildMetricsServer } from './metrics-server.ts';
import { workerRunOptions } from './worker-options.ts';
import { createWorkerMetrics } from './worker-metrics.ts';

/** Longest drain before the process exits 1 anyway; a step hands its job back at its next chunk boundary. */
const DRAIN_TIMEOUT_MS = 60_000;

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = pino({ level: config.LOG_LEVEL });
  logger.info({ config: redactedConfig(config) }, 'worker starting');
  const runtime = await startIngestRuntime(config, { logger, role: 'worker' });
  const registry = createWorkerMetrics(runtime.engine, runtime);
  let gate: ReadinessGate | undefined;
  const server = buildMetricsServer({
    registry,
    checkHealth: () => runtime.checkHealth(),
    readiness: () => gate?.state() ?? { ready: false, checks: {}, probedAt: null },
    logger,
  });
  const alerts = startAlertRelay(() => runtime.deliverAlerts(), config.ALERT_DELIVERY_INTERVAL_MS, logger);

  // A second signal, or a drain that outlasts the timeout, exits 1 at once (close-with-grace).
  closeWithGrace(
    {
      delay: DRAIN_TIMEOUT_MS,
      logger: { error: (message: unknown) => logger.error({ detail: String(message) }, 'forced shutdown') },
    },
    async ({ signal, err }) => {
      if (err) logger.error({ err }, 'worker failing; draining');
      else logger.info({ signal }, 'worker draining');
      await gate?.stop();
      await alerts.stop();
      await runtime.close();
      await server.close();
      logger.info('worker stopped');
    },
  );

  const metricsAddress = await server.listen({ host: config.HOST, port: config.METRICS_PORT });
  logger.info({ metricsAddress }, 'worker listening; consumers start once ready');
  const run = workerRunOptions(config);
  let started = false;
  gate = startReadinessGate({
    probe: () => runtime.checkHealth(),
    intervalMs: config.READINESS_INTERVAL_MS,
    threshold: config.READINESS_THRESHOLD,
    registry,
    logger,
    async onChange(ready) {
      if (!ready) return runtime.pauseWorkers();
      if (started) return runtime.resumeWorkers();
      started = true;
      await runtime.startWorkers(run);
      const queues = run.queues?.length ?? runtime.engine.queueNames().length;
      logger.info({ queues, concurrency: run.concurrency, metricsAddress }, 'worker ready');
    },
  });
}

main().catch((err: unknown) => {
  // Errors with a code are expected ones (bad configuration, unknown queue, refused connection): their message says
  // it all. Anything else is a bug and deserves its stack.
  const text = err instanceof Error ? ('code' in err && typeof err.code === 'string' ? err.message : (err.stack ?? err.message)) : String(err);
  process.stderr.write(`worker: ${text}\n`);
  process.exit(1);
});
