// The chunk store's failure modes over real sockets: refused connections, a server that never answers, the breaker opening.
import net from 'node:net';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChunkStoreOptions, createChunkStore, createS3Client, isRetryableStorageError, readS3Settings } from '../src/index.ts';
import { type StorageFixture, errorOf, randomId, setUpStorage } from './support.ts';

let f: StorageFixture;
const sockets = new Set<net.Socket>();
let silent: net.Server;

beforeAll(async () => {
  f = await setUpStorage();
  // Accepts connections and never answers: a hung server.
  silent = net.createServer((s) => void sockets.add(s));
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  silent?.close();
  await f?.close();
});

async function closedPort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function storeAt(endpoint: string, extra: Partial<ChunkStoreOptions> = {}) {
  const client = createS3Client({ ...readS3Settings(), endpoint, maxAttempts: 1 });
  return { client, store: createChunkStore({ client, bucket: f.bucket, ...extra }) };
}

describe('chunk store failures', () => {
  it('reports a refused connection as retryable STORAGE_UNAVAILABLE, then fails fast with CIRCUIT_OPEN once the breaker opens', async () => {
    const { client, store } = storeAt(`http://127.0.0.1:${await closedPort()}`, { breaker: { volumeThreshold: 3, resetTimeoutMs: 60_000 } });
    try {
      for (let i = 0; i < 3; i++) {
        const err = await errorOf(() => store.head(`k-${i}`));
        expect(err).toMatchObject({ code: 'STORAGE_UNAVAILABLE', retryable: true });
      }
      expect(store.breakerState()).toBe('open');
      const started = Date.now();
      const err = await errorOf(() => store.put('k', Buffer.from('x'), { sha256: '0'.repeat(64), md5: '0'.repeat(32) }));
      expect(err).toMatchObject({ code: 'CIRCUIT_OPEN', retryable: true, key: 'k' });
      expect(isRetryableStorageError(err)).toBe(true);
      expect(Date.now() - started).toBeLessThan(100);
    } finally {
      store.close();
      client.destroy();
    }
  });

  it('aborts a call the server never answers after callTimeoutMs, as retryable TIMEOUT', async () => {
    const port = (silent.address() as net.AddressInfo).port;
    const { client, store } = storeAt(`http://127.0.0.1:${port}`, { callTimeoutMs: 300 });
    try {
      const started = Date.now();
      const err = await errorOf(() => store.head('anything'));
      expect(err).toMatchObject({ code: 'TIMEOUT', retryable: true });
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      store.close();
      client.destroy();
    }
  });

  it('fails as CANCELLED, not retryable, when the caller aborts a call', async () => {
    const port = (silent.address() as net.AddressInfo).port;
    const { client, store } = storeAt(`http://127.0.0.1:${port}`);
    try {
      const controller = new AbortController();
      const pending = errorOf(() => store.head('anything', { signal: controller.signal }));
      controller.abort();
      expect(await pending).toMatchObject({ code: 'CANCELLED', retryable: false });
    } finally {
      store.close();
      client.destroy();
    }
  });

  it('does not count answers such as "not found" against the store', async () => {
    const store = createChunkStore({ client: f.client, bucket: f.bucket, breaker: { volumeThreshold: 2 } });
    try {
      for (let i = 0; i < 5; i++) expect(await store.head(`${f.prefix}missing-${randomId()}`)).toBeUndefined();
      expect(await store.exists(`${f.prefix}missing`)).toBe(false);
      expect(store.breakerState()).toBe('closed');
    } finally {
      store.close();
    }
  });

  it('rejects bad options at construction', () => {
    expect(() => createChunkStore({ client: f.client, bucket: '' })).toThrow(/bucket/);
    expect(() => createChunkStore({ client: f.client, bucket: 'b', deleteBatchSize: 1001 })).toThrow(/deleteBatchSize/);
    expect(() => createS3Client({ region: 'us-east-1', endpoint: 'not a url' })).toThrow(/endpoint/);
    expect(() => readS3Settings({ S3_REGION: 'x' })).toThrow(/S3_BUCKET/);
  });
});
