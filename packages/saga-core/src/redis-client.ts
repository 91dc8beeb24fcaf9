// One Redis client type for a single server and for Redis Cluster (managed offerings' cluster mode).
import { Cluster, Redis, type RedisOptions } from 'ioredis';

/** A connection to one Redis server or to a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/** Where Redis is: a URL (`redis://` or `rediss://` for TLS), and whether it is one node of a cluster. */
export interface RedisTarget {
  url: string;
  /** The URL names one node of a Redis Cluster (a seed): the others are discovered from it. */
  cluster?: boolean;
  /** More cluster nodes (`host:port`) to start from, so that a client started while the URL's node is down connects. */
  seeds?: readonly string[];
}

/** Opens a client on `target`: ioredis `Cluster` seeded with the URL's node when `cluster`, else one `Redis`. */
export function createRedisClient(target: RedisTarget, options: RedisOptions = {}): RedisClient {
  if (!target.cluster) return new Redis(target.url, options);
  const u = new URL(target.url);
  const auth = {
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
  const seeds = [{ host: u.hostname, port: Number(u.port || 6379) }, ...(target.seeds ?? []).map(parseHostPort)];
  return new Cluster(seeds, {
    redisOptions: { ...options, ...auth },
    enableReadyCheck: options.enableReadyCheck ?? true,
    // While a failed master's replica is promoted, commands wait for the new slot map instead of failing.
    retryDelayOnClusterDown: 200,
    retryDelayOnFailover: 200,
    retryDelayOnTryAgain: 200,
    ...(options.maxRetriesPerRequest !== undefined ? { maxRetriesPerRequest: options.maxRetriesPerRequest } : {}),
  });
}

/** The servers to SCAN for keys: every master of a cluster (SCAN sees one node's keys), or the one server. */
export function scanTargets(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

/** True when `prefix` is hash-tagged (`{name}`), so every key under it maps to one cluster slot. */
export function isHashTagged(prefix: string): boolean {
  return /^\{[^{}]+\}$/.test(prefix);
}

/** `host:port` as ioredis's node address; throws on anything else. */
export function parseHostPort(node: string): { host: string; port: number } {
  const m = /^([^\s:]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(node.trim());
  const port = Number(m?.[2]);
  if (!m?.[1] || !(port > 0 && port < 65536)) throw new Error(`not host:port: ${node}`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}
