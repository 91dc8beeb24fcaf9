// Redis isolation for tests: each test's queues live under a random BullMQ prefix that is wiped afterwards.
import { Redis } from 'ioredis';
import { randomId } from './database.ts';

/** A random BullMQ prefix such as `test-1a2b3c4d5e6f`: no ':' (BullMQ adds its own), no glob characters. */
export function createTestRedisPrefix(label = 'test'): string {
  const safe = label.replace(/[^A-Za-z0-9_-]/g, '-') || 'test';
  return `${safe}-${randomId(6)}`;
}

/** Options for flushPrefix. */
export interface FlushPrefixOptions {
  /** Keys asked for per SCAN and deleted per UNLINK. Default 500. */
  batchSize?: number;
}

/** Deletes every key under `<prefix>:` with SCAN and batched UNLINK (never KEYS), and returns how many went. */
export async function flushPrefix(redisUrl: string, prefix: string, options: FlushPrefixOptions = {}): Promise<number> {
  // An empty prefix would match the whole database.
  if (prefix === '') throw new Error('flushPrefix: prefix must not be empty');
  const { batchSize = 500 } = options;
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const pattern = `${escapeGlob(prefix)}:*`;
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', batchSize);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    redis.disconnect();
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
