// What this worker consumes, derived from the configuration: concurrency and the queue list.
import type { IngestConfig } from '@ingest/ingest';

/** Options for runtime.startWorkers(). */
export interface WorkerRunOptions {
  concurrency: number;
  /** Undefined: every queue of the saga. */
  queues?: string[];
}

/** WORKER_CONCURRENCY as is; WORKER_QUEUES split on commas, blanks dropped, empty meaning all queues. */
export function workerRunOptions(config: Pick<IngestConfig, 'WORKER_CONCURRENCY' | 'WORKER_QUEUES'>): WorkerRunOptions {
  const queues = (config.WORKER_QUEUES ?? '')
    .split(',')
    .map((q) => q.trim())
    .filter((q) => q !== '');
  return queues.length === 0 ? { concurrency: config.WORKER_CONCURRENCY } : { concurrency: config.WORKER_CONCURRENCY, queues: [...new Set(queues)] };
}
