// A query that postgres.js or ioredis rejects because its connection closed (a database restart, a failover) can
// surface as an unhandled rejection when nothing awaited it any more; the pools reconnect, so it is logged, not fatal.
// Any other unhandled rejection is a bug: it is rethrown as an uncaught exception, which drains and exits as before.
import { isTransientInfraError } from '@ingest/saga-core';
import type { Logger } from 'pino';

/** Installs the handler; the process's graceful-shutdown hook must skip 'unhandledRejection' (it sees the rethrow). */
export function surviveLostConnectionRejections(logger: Logger): void {
  process.on('unhandledRejection', (reason) => {
    if (isTransientInfraError(reason)) {
      logger.error({ err: reason }, 'a query on a lost connection was rejected with nobody waiting for it; the pool reconnects');
      return;
    }
    setImmediate(() => {
      throw reason;
    });
  });
}
