import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createTestRedisPrefix, flushPrefix, requireEnv } from '../src/index.ts';

describe('Redis prefixes', () => {
  const redisUrl = requireEnv('REDIS_URL');
  const redis = new Redis(redisUrl);
  afterAll(() => redis.disconnect());

  it('creates distinct prefixes with no ":" or glob characters', () => {
    const prefixes = new Set(Array.from({ length: 50 }, () => createTestRedisPrefix('my:label*')));
    expect(prefixes.size).toBe(50);
    for (const p of prefixes) expect(p).toMatch(/^my-label--[0-9a-f]{12}$/);
  });

  it('flushPrefix deletes every key of the prefix in batches, and nothing else', async () => {
    const prefix = createTestRedisPrefix('flush');
    const neighbour = `${prefix}x`;
    const pipeline = redis.pipeline();
    for (let i = 0; i < 1_234; i++) pipeline.set(`${prefix}:queue:${i}`, '1');
    pipeline.set(`${neighbour}:queue:0`, 'keep');
    pipeline.set(prefix, 'keep: not under "<prefix>:"');
    await pipeline.exec();

    await expect(flushPrefix(redisUrl, prefix, { batchSize: 100 })).resolves.toBe(1_234);
    expect(await redis.keys(`${prefix}:*`)).toEqual([]);
    expect(await redis.get(`${neighbour}:queue:0`)).toBe('keep');
    expect(await redis.exists(prefix)).toBe(1);
    await redis.del(`${neighbour}:queue:0`, prefix);
  });

  it('treats glob characters in a prefix literally', async () => {
    const id = createTestRedisPrefix('glob');
    await redis.set(`${id}-ab:k`, 'keep');
    await redis.set(`${id}-a*:k`, 'delete');
    await expect(flushPrefix(redisUrl, `${id}-a*`)).resolves.toBe(1);
    expect(await redis.get(`${id}-ab:k`)).toBe('keep');
    await redis.del(`${id}-ab:k`);
  });

  it('refuses an empty prefix, which would match the whole database', async () => {
    await expect(flushPrefix(redisUrl, '')).rejects.toThrow(/empty/);
  });
});
