// Job counts of every step and compensation queue, read from BullMQ (waiting, active, delayed, failed).
import { Queue } from 'bullmq';
import { createRedisClient } from '@ingest/saga-core';

/** Counts of one queue. */
export interface QueueDepth {
  queue: string;
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
}

/** Reads queue depths (and puts a job back for a requeued dead letter); close() releases its Redis connection. */
export interface QueueDepthReader {
  read(): Promise<QueueDepth[]>;
  /** Adds a job to one of the fleet's queues; false when `queue` is not one of them. */
  enqueue(queue: string, data: unknown, jobId: string): Promise<boolean>;
  close(): Promise<void>;
}

/** Options of createQueueDepthReader. */
export interface QueueDepthReaderOptions {
  redisUrl: string;
  /** redisUrl names one node of a Redis Cluster (REDIS_CLUSTER). */
  redisCluster?: boolean;
  /** More cluster nodes (`host:port`, REDIS_CLUSTER_NODES) to start from. */
  redisSeeds?: readonly string[];
  /** The fleet's BullMQ prefix (QUEUE_PREFIX). */
  prefix: string;
  /** Every queue to report (the engine's queueNames()). */
  queues: string[];
}

/** One Redis connection shared by a Queue handle per queue; counts are read with BullMQ's own commands. */
export function createQueueDepthReader(options: QueueDepthReaderOptions): QueueDepthReader {
  // A command fails after one reconnection attempt while Redis is down instead of waiting forever: a scrape must answer.
  const connection = createRedisClient({ url: options.redisUrl, cluster: options.redisCluster, seeds: options.redisSeeds }, { maxRetriesPerRequest: 1 });
  connection.on('error', () => undefined);
  const handles = options.queues.map((name) => new Queue(name, { connection, prefix: options.prefix }));
  return {
    async read() {
      return Promise.all(
        handles.map(async (q) => {
          // 'waiting' includes prioritized jobs in BullMQ 5+: count both as waiting.
          const c = await q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed');
          return { queue: q.name, waiting: (c.waiting ?? 0) + (c.prioritized ?? 0), active: c.active ?? 0, delayed: c.delayed ?? 0, failed: c.failed ?? 0 };
        }),
      );
    },
    async enqueue(queue, data, jobId) {
      const q = handles.find((h) => h.name === queue);
      if (!q) return false;
      await q.add('step', data, { jobId, removeOnComplete: true, removeOnFail: { count: 1000 } });
      return true;
    },
    async close() {
      await Promise.all(handles.map((q) => q.close()));
      connection.disconnect();
    },
  };
}
