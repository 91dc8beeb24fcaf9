// Per-resource Redis lock (a saga's exclusivity key) naming its owner saga; expires on its own. PostgreSQL's live-lock index is the backstop.
import { createHash } from 'node:crypto';
import { scanTargets, type RedisClient } from './redis-client.ts';

// Take it, or refresh it when it is ours; otherwise name the holder. One round trip: it runs before every action.
const ACQUIRE = `if redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return false end
local holder = redis.call('get', KEYS[1])
if holder == ARGV[1] then redis.call('pexpire', KEYS[1], ARGV[2]) return false end
if not holder then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return false end
return holder`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const REPLACE = `if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 else return 0 end`;

/** Lock operations over one Redis connection and key prefix. */
export interface ResourceLocks {
  /** Takes the lock for `sagaId`; returns null on success or the holder's saga id. Re-taking one's own lock refreshes it. */
  acquire(lockKey: string, sagaId: string, ttlMs: number): Promise<string | null>;
  /** Takes over a lock from `expectedHolder` (a saga that is no longer live). */
  replace(lockKey: string, expectedHolder: string, sagaId: string, ttlMs: number): Promise<boolean>;
  /** Releases the lock only if `sagaId` holds it. */
  release(lockKey: string, sagaId: string): Promise<boolean>;
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
    async acquire(lockKey, sagaId, ttlMs) {
      const holder = (await acquire(k(lockKey), sagaId, String(ttlMs))) as string | null;
      return holder ?? null;
    },
    async replace(lockKey, expectedHolder, sagaId, ttlMs) {
      return (await replace(k(lockKey), expectedHolder, sagaId, String(ttlMs))) === 1;
    },
    async release(lockKey, sagaId) {
      return (await release(k(lockKey), sagaId)) === 1;
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
 * A one-key Lua script called by its SHA (EVALSHA): the acquire runs before every action, and sending the script's text
 * each time was most of its cost. A server that does not know it yet (restarted, another cluster node) gets it by EVAL.
 */
function script(redis: RedisClient, body: string): (key: string, ...args: string[]) => Promise<unknown> {
  const sha = createHash('sha1').update(body).digest('hex');
  return async (key, ...args) => {
    try {
      return await redis.evalsha(sha, 1, key, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return redis.eval(body, 1, key, ...args);
    }
  };
}
