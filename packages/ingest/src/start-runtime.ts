// Start-up that outlasts an outage: a process started while PostgreSQL or Redis is down (a failover, a restart, a
// pod scheduled before its database) waits for it, saying so, instead of exiting and crash-looping.
import { isTransientInfraError } from '@ingest/saga-core';
import type { Logger } from 'pino';
import type { IngestConfig } from './config.ts';
import { createIngestRuntime, type IngestRuntimeOptions } from './runtime.ts';
import type { IngestRuntime } from './types.ts';

/** Options of startIngestRuntime. */
export interface StartRuntimeOptions extends IngestRuntimeOptions {
  logger: Logger;
  /** Longest wait for the services before the last error is thrown. Default: no limit. */
  waitUpToMs?: number;
  /** Stops the wait (a shutdown signal during start-up). */
  signal?: AbortSignal;
}

const MAX_DELAY_MS = 5_000;

/** createIngestRuntime, retried with capped backoff while the services it needs are unreachable. */
export async function startIngestRuntime(config: IngestConfig, options: StartRuntimeOptions): Promise<IngestRuntime> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await createIngestRuntime(config, options);
    } catch (err) {
      const waited = Date.now() - started;
      if (!isTransientInfraError(err) || options.signal?.aborted || waited >= (options.waitUpToMs ?? Infinity)) throw err;
      const delayMs = Math.min(MAX_DELAY_MS, 250 * 2 ** (attempt - 1));
      options.logger.warn({ err, attempt, waitedMs: waited, retryInMs: delayMs }, 'services unreachable at start-up; waiting for them');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        options.signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
  }
}
