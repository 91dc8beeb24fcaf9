// Per-resource Redis locks (a saga's exclusivity keys) naming their owner saga; they expire on their own. PostgreSQL's
// live-lock index is the backstop of a saga's first key.
import { createHash } from 'node:crypto';
import { scanTargets, type RedisClient } from './redis-client.ts';

// Take all of a saga's keys, or refresh them where they are ours; otherwise name the first one held by another saga
// and take none. One round trip, atomic (so two sagas wanting the same pair cannot each end up with half of it): it
// runs before every action. Its keys share the prefix, whose hash tag keeps them in one slot on a cluster.
const ACQUIRE = `for i, key in ipairs(KEYS) do
  local holder = redis.call('get', key)
  if holder and holder ~= ARGV[1] then return {i, holder} end
end
for _, key in ipairs(KEYS) do redis.call('set', key, ARGV[1], 'PX', ARGV[2]) end
return false`;
const RELEASE = `local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('get', key) == ARGV[1] then n = n + redis.call('del', key) end
end
return n`;
const REPLACE = `if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 else return 0 end`;

/** Lock operations over one Redis connection and key prefix. */
export interface ResourceLocks {
  /**
   * Takes every key for `sagaId`, or none: returns null on success, else the first key (in the order given) held by
   * another saga and that holder. Re-taking one's own keys refreshes them.
   */
  acquire(lockKeys: readonly string[], sagaId: string, ttlMs: number): Promise<{ lockKey: string; holder: string } | null>;
  /** Takes over a lock from `expectedHolder` (a saga that is no longer live). */
  replace(lockKey: string, expectedHolder: string, sagaId: string, ttlMs: number): Promise<boolean>;
  /** Releases those of the keys that `sagaId` holds; returns how many it released. */
  release(lockKeys: readonly string[], sagaId: string): Promise<number>;
  holder(lockKey: string): Promise<string | null>;
  /** Every held lock: lock key and holder. */
  list(): AsyncIterable<{ lockKey: string; holder: string }>;
}

/** Builds lock operations; keys are `<prefix>:lock:<lockKey>`. */
export function createResourceLocks(redis: RedisClient, prefix: string): ResourceLocks {
  const k = (lockKey: string) => `${prefix}:lock:${lockKey}`;
  const acquire = script(redis, ACQUIRE);
  const replace = script(redis, REPLACE);
  const release = script(redis, RELEASE);
  return {
    async acquire(lockKeys, sagaId, ttlMs) {
      if (lockKeys.length === 0) return null;
      const held = (await acquire(lockKeys.map(k), [sagaId, String(ttlMs)])) as [number, string] | null;
      if (!held) return null;
      return { lockKey: lockKeys[held[0] - 1]!, holder: held[1] };
    },
    async replace(lockKey, expectedHolder, sagaId, ttlMs) {
      return (await replace([k(lockKey)], [expectedHolder, sagaId, String(ttlMs)])) === 1;
    },
    async release(lockKeys, sagaId) {
      if (lockKeys.length === 0) return 0;
      return Number(await release(lockKeys.map(k), [sagaId]));
    },
    async holder(lockKey) {
      return redis.get(k(lockKey));
    },
    async *list() {
      const head = `${prefix}:lock:`;
      // On a cluster SCAN walks one node: walk every master (a hash-tagged prefix puts them all on one).
      for (const node of scanTargets(redis)) {
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', `${head}*`, 'COUNT', 500);
          cursor = next;
          for (const key of keys) {
            const holder = await redis.get(key);
            if (holder !== null) yield { lockKey: key.slice(head.length), holder };
          }
        } while (cursor !== '0');
      }
    },
  };
}

/**
 * A Lua script called by its SHA (EVALSHA): the acquire runs before every action, and sending the script's text each
 * time was most of its cost. A server that does not know it yet (restarted, another cluster node) gets it by EVAL.
 */
function script(redis: RedisClient, body: string): (keys: readonly string[], args: readonly string[]) => Promise<unknown> {
  const sha = createHash('sha1').update(body).digest('hex');
  return async (keys, args) => {
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return redis.eval(body, keys.length, ...keys, ...args);
    }
  };
}
