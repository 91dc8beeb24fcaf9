// Throwaway service state for a benchmark run: its own PostgreSQL database and its own Redis key prefix, both removed after.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import postgres, { type Sql } from 'postgres';

/** A database created for one run; `admin` stays connected to the base database to read statistics and to drop it. */
export interface ScratchDatabase {
  name: string;
  url: string;
  admin: Sql;
  drop(): Promise<void>;
}

/** Creates `<label>_<random>` next to the database of `baseUrl`, so runs never see each other's rows. */
export async function createScratchDatabase(baseUrl: string, label: string): Promise<ScratchDatabase> {
  const name = `${label}_${randomBytes(5).toString('hex')}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => undefined });
  await admin.unsafe(`create database "${name}"`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    admin,
    async drop() {
      try {
        // `with (force)` ends connections a crashed run may have left behind.
        await admin.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await admin.end();
      }
    },
  };
}

/** Committed and rolled-back transaction counters of one database, as PostgreSQL's cumulative statistics report them. */
export interface XactCounters {
  commits: number;
  rollbacks: number;
}

/**
 * Reads pg_stat_database once no backend is connected to `dbName`: a backend publishes its counters when it exits,
 * while an idle one may hold them for up to 10 s, so closing the pool first is what makes the numbers exact.
 */
export async function readXactCounters(admin: Sql, dbName: string, timeoutMs = 10_000): Promise<XactCounters> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await admin<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where datname = ${dbName}`;
    if ((row?.n ?? 0) === 0) break;
    if (Date.now() > until) throw new Error(`backends of ${dbName} still connected after ${timeoutMs} ms; close its pools first`);
    await sleep(50);
  }
  // An exiting backend leaves pg_stat_activity a moment before it publishes its counters: read until two reads agree.
  let last = await readOnce(admin, dbName);
  for (;;) {
    await sleep(100);
    const now = await readOnce(admin, dbName);
    if (now.commits === last.commits && now.rollbacks === last.rollbacks) return now;
    if (Date.now() > until) throw new Error(`transaction counters of ${dbName} still moving after ${timeoutMs} ms`);
    last = now;
  }
}

async function readOnce(admin: Sql, dbName: string): Promise<XactCounters> {
  const [stats] = await admin<{ commits: string; rollbacks: string }[]>`
    select xact_commit::text as commits, xact_rollback::text as rollbacks from pg_stat_database where datname = ${dbName}`;
  return { commits: Number(stats?.commits ?? 0), rollbacks: Number(stats?.rollbacks ?? 0) };
}

/** Deletes every key under `<prefix>:` with SCAN + UNLINK (never KEYS, the Redis is shared); returns how many went. */
export async function deleteRedisPrefix(redisUrl: string, prefix: string): Promise<number> {
  // An empty or glob-bearing prefix could match other people's keys.
  if (!/^[A-Za-z0-9_-]+$/.test(prefix)) throw new Error(`refusing to delete keys under prefix "${prefix}"`);
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    redis.disconnect();
  }
}
