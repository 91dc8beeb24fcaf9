// Test helpers shared by every package: real-service set-up, isolation, bounded waits, fault injection.
export { createTestDatabase, requireEnv, randomId, type TestDatabase } from './database.ts';
export { waitFor, type WaitForOptions } from './wait-for.ts';
/** Random BullMQ prefixes and SCAN-based cleanup of their keys. */
export { createTestRedisPrefix, flushPrefix, type FlushPrefixOptions } from './redis.ts';
/** A TCP proxy in front of Redis, PostgreSQL or S3 that can hang, refuse, lag or drop connections. */
export { startTcpProxy, type TcpProxy, type TcpProxyOptions, type TcpProxyStats } from './tcp-proxy.ts';
/** An HTTP proxy in front of the S3 server that fails, stalls, delays or refuses chosen requests. */
export {
  startS3FaultProxy,
  S3_SLOW_DOWN,
  S3_INTERNAL_ERROR,
  type S3FaultProxy,
  type S3FaultProxyOptions,
  type S3FaultRule,
  type S3FaultRuleHandle,
  type S3FaultAction,
  type S3KeyMatcher,
  type S3RequestRecord,
} from './s3-fault-proxy.ts';
/** How the S3 fault proxy classifies a request (kind, bucket, key). */
export { describeS3Request, type S3OperationKind, type S3RequestTarget } from './s3-request.ts';
/** Real child processes: spawn, wait for output, signal, measure peak memory, and stop all after a test. */
export {
  spawnProcess,
  stopAllProcesses,
  peakRssBytes,
  type TestProcess,
  type SpawnProcessOptions,
  type ProcessExit,
  type OutputMatch,
} from './processes.ts';
/** A private set of Redis, PostgreSQL and S3 (own directory and ports) that a test may pause, restart and stop. */
export { createServiceSet, portOpen, SERVICES, type ServiceName, type ServiceSet, type ServiceSetOptions } from './service-set.ts';
/** A FIFO whose writer waits until someone opens it: proof that a path was never opened. */
export { createFifoTrap, type FifoTrap } from './fifo-trap.ts';
/** Debian tools a test needs (promtool, chromium), installed when missing. */
export { ensureDebianTool } from './debian-tool.ts';
/** A free TCP port on 127.0.0.1 for a server a test starts. */
export { freePort } from './free-port.ts';
/** Debian's PgBouncer in transaction pooling in front of the test PostgreSQL. */
export { startPgBouncer, type PgBouncer, type PgBouncerOptions } from './pgbouncer.ts';
/** A local Redis Cluster (3 masters, 3 replicas) of Debian's redis-server. */
export { startRedisCluster, type RedisCluster, type RedisClusterNode } from './redis-cluster.ts';
