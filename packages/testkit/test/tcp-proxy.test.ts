import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import postgres from 'postgres';
import { createTestRedisPrefix, flushPrefix, requireEnv, startTcpProxy, waitFor, type TcpProxy } from '../src/index.ts';

function targetOf(serviceUrl: string): { targetHost: string; targetPort: number } {
  const u = new URL(serviceUrl);
  return { targetHost: u.hostname, targetPort: Number(u.port) };
}

/** Tracks whether a promise has settled, without waiting for it. */
function track<T>(p: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let settled = false;
  const promise = p.finally(() => (settled = true));
  promise.catch(() => {});
  return { promise, settled: () => settled };
}

describe('startTcpProxy in front of Redis', () => {
  const redisUrl = requireEnv('REDIS_URL');
  let proxy: TcpProxy;
  let prefix: string;
  let direct: Redis;
  const clients: Redis[] = [];
  const sockets: net.Socket[] = [];
  const client = (options: RedisOptions = {}): Redis => {
    const c = new Redis(proxy.urlFor(redisUrl), options);
    c.on('error', () => {});
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    proxy = await startTcpProxy(targetOf(redisUrl));
    prefix = createTestRedisPrefix('tcp-proxy');
    direct = new Redis(redisUrl);
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    for (const s of sockets.splice(0)) s.destroy();
    await proxy.close();
    await flushPrefix(redisUrl, prefix);
    direct.disconnect();
  });

  it('forwards commands and counts connections and bytes', async () => {
    const c = client();
    await c.set(`${prefix}:k`, 'v');
    expect(await direct.get(`${prefix}:k`)).toBe('v');
    const s = proxy.stats();
    expect(s.connections).toBe(1);
    expect(s.totalConnections).toBe(1);
    expect(s.bytesToTarget).toBeGreaterThan(0);
    expect(s.bytesFromTarget).toBeGreaterThan(0);
  });

  it('pause() hangs commands on open and new connections until resume()', async () => {
    const c = client();
    const impatient = client({ commandTimeout: 300 });
    await Promise.all([c.ping(), impatient.ping()]);

    proxy.pause();
    const held = track(c.incr(`${prefix}:n`));
    const late = client({ lazyConnect: true });
    const connecting = track(late.connect());
    // A client with a command timeout sees the hang as a timeout, while its connection stays up.
    await expect(impatient.ping()).rejects.toBeInstanceOf(Error);
    expect(impatient.status).toBe('ready');
    expect(held.settled()).toBe(false);
    expect(connecting.settled()).toBe(false);
    expect(await direct.get(`${prefix}:n`)).toBeNull();

    proxy.resume();
    await expect(held.promise).resolves.toBe(1);
    await connecting.promise;
    await expect(late.incr(`${prefix}:n`)).resolves.toBe(2);
    await expect(impatient.ping()).resolves.toBe('PONG');
  });

  it('pause() applies backpressure instead of buffering what clients send', async () => {
    const payload = Buffer.alloc(32 * 1024 * 1024, 'x');
    const key = `${prefix}:big`;
    const impatient = client({ commandTimeout: 300 });
    await impatient.ping();
    const sock = net.connect(proxy.port, proxy.host);
    sockets.push(sock);
    await new Promise<void>((resolve) => sock.once('connect', resolve));
    const reply = new Promise<string>((resolve) => sock.once('data', (d) => resolve(d.toString())));

    proxy.pause();
    sock.write(`*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${payload.length}\r\n`);
    sock.write(payload);
    sock.write('\r\n');
    // While the timeout runs, the event loop is free: an unbounded proxy would read all 32 MiB into memory now.
    await expect(impatient.ping()).rejects.toBeInstanceOf(Error);
    expect(proxy.stats().bufferedBytes).toBeLessThanOrEqual(1024 * 1024);
    expect(sock.writableLength).toBeGreaterThan(0);

    proxy.resume();
    expect(await reply).toBe('+OK\r\n');
    expect(await direct.strlen(key)).toBe(payload.length);
    expect(proxy.stats().peakBufferedBytes).toBeLessThanOrEqual(1024 * 1024 + 64 * 1024);
  });

  it('refuse() makes commands fail, accept() lets the client reconnect', async () => {
    const c = client({ maxRetriesPerRequest: 1, retryStrategy: () => 20 });
    await c.ping();

    proxy.refuse();
    await expect(c.ping()).rejects.toMatchObject({ name: 'MaxRetriesPerRequestError' });
    expect(c.status).not.toBe('ready');
    expect(proxy.stats().refusedConnections).toBeGreaterThan(0);

    proxy.accept();
    await waitFor(async () => (await c.ping()) === 'PONG', { what: 'a PONG after accept()' });
  });

  it('setLatency() delays each chunk in both directions', async () => {
    const c = client();
    await c.ping();
    proxy.setLatency(150);
    const started = Date.now();
    await c.ping();
    // One chunk out and one back, each held for 150 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(295);
    proxy.setLatency(0);
    await expect(c.ping()).resolves.toBe('PONG');
  });

  it('bounds what it holds for delayed chunks by pausing the sender', async () => {
    await proxy.close();
    proxy = await startTcpProxy({ ...targetOf(redisUrl), maxBufferedBytes: 256 * 1024 });
    proxy.setLatency(20);
    const payload = Buffer.alloc(8 * 1024 * 1024, 'y');
    const key = `${prefix}:delayed`;
    const sock = net.connect(proxy.port, proxy.host);
    sockets.push(sock);
    const reply = new Promise<string>((resolve) => sock.once('data', (d) => resolve(d.toString())));
    sock.write(`*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${payload.length}\r\n`);
    sock.write(payload);
    sock.write('\r\n');
    expect(await reply).toBe('+OK\r\n');
    expect(proxy.stats().bytesToTarget).toBeGreaterThan(payload.length);
    // The bound plus at most one socket read (64 KiB) past it.
    expect(proxy.stats().peakBufferedBytes).toBeLessThanOrEqual(256 * 1024 + 64 * 1024);
  });

  it('dropConnections() closes open connections once; clients reconnect', async () => {
    const c = client({ retryStrategy: () => 20 });
    await c.ping();
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    proxy.dropConnections();
    await closed;
    await waitFor(async () => (await c.ping()) === 'PONG', { what: 'a PONG after reconnecting' });
    expect(proxy.stats().totalConnections).toBe(2);
  });
});

describe('startTcpProxy in front of PostgreSQL', () => {
  const databaseUrl = requireEnv('DATABASE_URL');

  it('forwards queries; refuse() makes open and new connections fail until accept()', async () => {
    const proxy = await startTcpProxy(targetOf(databaseUrl));
    const url = proxy.urlFor(databaseUrl);
    const open = (): postgres.Sql => postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
    const pools: postgres.Sql[] = [];
    try {
      const before = open();
      pools.push(before);
      const [row] = await before<{ one: number }[]>`select 1 as one`;
      expect(row?.one).toBe(1);

      proxy.refuse();
      await expect(before`select 1`).rejects.toMatchObject({ code: 'ECONNRESET' });
      const during = open();
      pools.push(during);
      await expect(during`select 1`).rejects.toMatchObject({ code: 'ECONNRESET' });
      expect(proxy.stats().refusedConnections).toBe(1);

      proxy.accept();
      // A fresh pool: postgres.js 3.4.9 never reuses a connection whose query died of ECONNRESET
      // (porsager/postgres#1130), which is the library's concern, not the proxy's.
      const after = open();
      pools.push(after);
      const [again] = await after<{ two: number }[]>`select 2 as two`;
      expect(again?.two).toBe(2);
    } finally {
      await Promise.all(pools.map((p) => p.end({ timeout: 1 })));
      await proxy.close();
    }
  });
});
