// Entry point of the producer: configuration → logger → ingestion runtime → HTTP API, with graceful shutdown.
import closeWithGrace from 'close-with-grace';
import { startIngestRuntime, redactedConfig } from '@ingest/ingest';
import { startReadinessGate } from '@ingest/ops';
import { buildProducerApp } from './app.ts';
import { createProducerLogger } from './logger.ts';
import { loadProducerConfig } from './settings.ts';

/** How long in-flight requests and connections get to finish after SIGTERM before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 30_000;

async function main(): Promise<void> {
  const config = loadProducerConfig(process.env);
  const logger = createProducerLogger(config.LOG_LEVEL);
  const { tokens, ...settings } = config;
  // Callers by name and scopes only: their secrets stay out of every log line.
  logger.info({ config: redactedConfig(settings), callers: tokens.map((t) => ({ name: t.name, scopes: [...t.scopes] })) }, 'producer starting');
  const runtime = await startIngestRuntime(config, { logger, role: 'producer' });
  // Not ready (SOURCE_ROOT missing, a dependency unreachable): /readyz answers 503 and Kubernetes routes no request here.
  const gate = startReadinessGate({ probe: () => runtime.checkHealth(), intervalMs: config.READINESS_INTERVAL_MS, threshold: config.READINESS_THRESHOLD, logger });
  const app = buildProducerApp({ runtime, tokens, authFailuresPerMinute: config.AUTH_FAILURES_PER_MINUTE, readiness: () => gate.state(), logger });

  // A second signal, or a close that outlasts the grace, exits 1 at once (close-with-grace).
  closeWithGrace(
    {
      delay: SHUTDOWN_GRACE_MS,
      logger: { error: (message: unknown) => logger.error({ detail: String(message) }, 'forced shutdown') },
    },
    async ({ signal, err }) => {
      if (err) logger.error({ err }, 'producer failing; closing');
      else logger.info({ signal }, 'producer shutting down');
      await gate.stop();
      await app.close();
      await runtime.close();
      logger.info('producer stopped');
    },
  );

  const address = await app.listen({ host: config.HOST, port: config.PORT });
  logger.info({ address }, 'producer listening');
}

main().catch((err: unknown) => {
  // Errors with a code are expected ones (bad configuration, unknown queue, refused connection): their message says
  // it all. Anything else is a bug and deserves its stack.
  const text = err instanceof Error ? ('code' in err && typeof err.code === 'string' ? err.message : (err.stack ?? err.message)) : String(err);
  process.stderr.write(`producer: ${text}\n`);
  process.exit(1);
});
