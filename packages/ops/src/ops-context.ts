// The connections the operator features use, apart from the runtime's: a small PostgreSQL pool and a queue reader.
import postgres, { type Sql } from 'postgres';
import { createQueueDepthReader, type QueueDepthReader } from './queue-depths.ts';

/** Options of createOpsContext. */
export interface OpsContextOptions {
  databaseUrl: string;
  redisUrl: string;
  /** redisUrl names one node of a Redis Cluster (REDIS_CLUSTER). */
  redisCluster?: boolean;
  /** More cluster nodes (`host:port`, REDIS_CLUSTER_NODES) to start from. */
  redisSeeds?: readonly string[];
  /** BullMQ prefix (QUEUE_PREFIX). */
  queuePrefix: string;
  /** The engine's queue names. */
  queues: string[];
  /** Pool size. Default 4: operator reads are few and must not starve the fleet's own connections. */
  maxConnections?: number;
  /** Named prepared statements (DATABASE_PREPARE); false behind PgBouncer < 1.21 in transaction pooling. Default true. */
  prepare?: boolean;
}

/** Shared connections of the operator features; close() releases them. */
export interface OpsContext {
  sql: Sql;
  queueDepths: QueueDepthReader;
  close(): Promise<void>;
}

/** Opens a pool (lazily connected) and a queue reader. */
export function createOpsContext(options: OpsContextOptions): OpsContext {
  const sql = postgres(options.databaseUrl, { max: options.maxConnections ?? 4, prepare: options.prepare ?? true, onnotice: () => {} });
  const queueDepths = createQueueDepthReader({ redisUrl: options.redisUrl, redisCluster: options.redisCluster, redisSeeds: options.redisSeeds, prefix: options.queuePrefix, queues: options.queues });
  return {
    sql,
    queueDepths,
    async close() {
      await queueDepths.close();
      await sql.end({ timeout: 5 });
    },
  };
}
