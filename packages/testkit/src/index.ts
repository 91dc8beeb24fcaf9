// Test helpers shared by every package: real-service set-up, isolation, bounded waits, fault injection.
export { createTestDatabase, requireEnv, randomId, type TestDatabase } from './database.ts';
export { waitFor, type WaitForOptions } from './wait-for.ts';
/** Random BullMQ prefixes and SCAN-based cleanup of their keys. */
export { createTestRedisPrefix, flushPrefix, type FlushPrefixOptions } from './redis.ts';
/** A TCP proxy in front of Redis, PostgreSQL or S3 that can hang, refuse, lag or drop connections. */
export { startTcpProxy, type TcpProxy, type TcpProxyOptions, type TcpProxyStats } from './tcp-proxy.ts';
