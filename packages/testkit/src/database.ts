// A fresh PostgreSQL database per test file, so that tests never see each other's rows.
import postgres from 'postgres';
import { randomBytes } from 'node:crypto';

/** A throwaway database: its URL, and `drop()` to remove it. */
export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** Creates an empty database next to DATABASE_URL's. */
export async function createTestDatabase(prefix = 'test'): Promise<TestDatabase> {
  const base = requireEnv('DATABASE_URL');
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const a = postgres(base, { max: 1, onnotice: () => {} });
      try {
        await a.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await a.end();
      }
    },
  };
}

/** Reads a setting the global set-up exported; fails loudly when the services were not started. */
export function requireEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests through vitest (global set-up starts the services)`);
  return v;
}

/** A short random id for queue prefixes, buckets and keys. */
export function randomId(bytes = 4): string {
  return randomBytes(bytes).toString('hex');
}
