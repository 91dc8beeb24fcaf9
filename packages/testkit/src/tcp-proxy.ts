// A loopback TCP proxy in front of a real service (Redis, PostgreSQL, S3), so a test can make the
// network hang, refuse, lag or drop without touching the code under test.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Options for startTcpProxy. */
export interface TcpProxyOptions {
  /** Host of the real service. */
  targetHost: string;
  /** Port of the real service. */
  targetPort: number;
  /** Loopback port to listen on. Default 0: any free port. */
  listenPort?: number;
  /** Bytes one direction of one connection may hold in memory before its source is paused. Default 1 MiB. */
  maxBufferedBytes?: number;
}

/** Counters since the proxy started. */
export interface TcpProxyStats {
  /** Connections open now. */
  connections: number;
  /** Connections accepted and forwarded since start. */
  totalConnections: number;
  /** Connections reset on arrival because the proxy was refusing. */
  refusedConnections: number;
  /** Bytes forwarded from clients to the service. */
  bytesToTarget: number;
  /** Bytes forwarded from the service to clients. */
  bytesFromTarget: number;
  /** Bytes read but not yet forwarded, over all connections. */
  bufferedBytes: number;
  /** Most bytes one direction of one connection ever held: lets a test prove buffering stays bounded. */
  peakBufferedBytes: number;
}

/** A running proxy; the test injects faults through its methods. */
export interface TcpProxy {
  /** Always 127.0.0.1. */
  host: string;
  /** The port clients connect to. */
  port: number;
  /** The same service URL (redis://, postgres://, http://) with host and port pointing at the proxy. */
  urlFor(serviceUrl: string): string;
  /** Hangs the service: no byte moves either way, on open and new connections, and nothing is closed. */
  pause(): void;
  /** Ends pause(): held bytes flow again, in order. */
  resume(): void;
  /** Downs the service: resets every open connection and every new one. Independent of pause(). */
  refuse(): void;
  /** Ends refuse(): new connections are forwarded again. */
  accept(): void;
  /** Delays every forwarded chunk, both ways, by `ms` (0 turns it off). */
  setLatency(ms: number): void;
  /** Closes the connections open now, once; later connections are forwarded as usual. */
  dropConnections(): void;
  /** A snapshot of the counters. */
  stats(): TcpProxyStats;
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;
}

interface Connection {
  client: net.Socket;
  upstream: net.Socket;
  pipes: Pipe[];
}

interface Pipe {
  /** Restarts reading from the source if its queue has room. */
  wake(): void;
  /** Bytes queued in this direction. */
  queued(): number;
}

/** Shared, mutable proxy state that every pipe reads. */
interface ProxyState {
  latencyMs: number;
  maxBufferedBytes: number;
  /** Set while paused: resolves on resume() or close(). */
  gate: { promise: Promise<void>; open: () => void } | undefined;
  peakBufferedBytes: number;
}

/** Starts a proxy on 127.0.0.1 that forwards to the target until told otherwise. */
export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const { targetHost, targetPort, listenPort = 0, maxBufferedBytes = 1024 * 1024 } = options;
  if (!Number.isInteger(targetPort) || targetPort <= 0) throw new Error(`startTcpProxy: bad targetPort ${targetPort}`);
  if (maxBufferedBytes <= 0) throw new Error('startTcpProxy: maxBufferedBytes must be positive');

  const state: ProxyState = { latencyMs: 0, maxBufferedBytes, gate: undefined, peakBufferedBytes: 0 };
  const connections = new Set<Connection>();
  let refusing = false;
  let closed = false;
  const counters = { totalConnections: 0, refusedConnections: 0, bytesToTarget: 0, bytesFromTarget: 0 };

  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    client.on('error', () => {});
    if (refusing || closed) {
      counters.refusedConnections++;
      reset(client);
      return;
    }
    counters.totalConnections++;
    const upstream = net.connect({ host: targetHost, port: targetPort, allowHalfOpen: true });
    const conn: Connection = { client, upstream, pipes: [] };
    connections.add(conn);
    conn.pipes.push(
      createPipe(client, upstream, state, (n) => (counters.bytesToTarget += n)),
      createPipe(upstream, client, state, (n) => (counters.bytesFromTarget += n)),
    );
    // A reset or error on one side becomes a reset on the other, as a client of the real service would see it.
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => reset(client));
    const forget = (): void => {
      if (client.destroyed && upstream.destroyed) connections.delete(conn);
    };
    client.on('close', forget);
    upstream.on('close', forget);
    if (state.gate) {
      client.pause();
      upstream.pause();
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('startTcpProxy: no TCP address');
  const port = address.port;

  const openGate = (): void => {
    const gate = state.gate;
    state.gate = undefined;
    gate?.open();
  };

  return {
    host: '127.0.0.1',
    port,
    urlFor(serviceUrl) {
      const url = new URL(serviceUrl);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      return url.toString();
    },
    pause() {
      if (state.gate) return;
      let open = (): void => {};
      const promise = new Promise<void>((resolve) => (open = resolve));
      state.gate = { promise, open };
      for (const c of connections) {
        c.client.pause();
        c.upstream.pause();
      }
    },
    resume() {
      openGate();
      for (const c of connections) for (const p of c.pipes) p.wake();
    },
    refuse() {
      refusing = true;
      for (const c of connections) {
        reset(c.client);
        c.upstream.destroy();
      }
    },
    accept() {
      refusing = false;
    },
    setLatency(ms) {
      if (!(ms >= 0)) throw new Error(`setLatency: bad latency ${ms}`);
      state.latencyMs = ms;
    },
    dropConnections() {
      for (const c of connections) {
        c.client.destroy();
        c.upstream.destroy();
      }
    },
    stats() {
      let bufferedBytes = 0;
      for (const c of connections) for (const p of c.pipes) bufferedBytes += p.queued();
      return { ...counters, connections: connections.size, bufferedBytes, peakBufferedBytes: state.peakBufferedBytes };
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const c of connections) {
        c.client.destroy();
        c.upstream.destroy();
      }
      openGate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** One direction of a connection: a bounded, ordered queue that honours latency, pause and backpressure. */
function createPipe(src: net.Socket, dst: net.Socket, state: ProxyState, forwarded: (bytes: number) => void): Pipe {
  const queue: { chunk: Buffer; due: number }[] = [];
  let queued = 0;
  let ended = false;
  let flushing = false;

  const hasRoom = (): boolean => queued < state.maxBufferedBytes;
  const wake = (): void => {
    if (!state.gate && hasRoom() && !src.destroyed) src.resume();
    void flush();
  };

  src.on('data', (chunk: Buffer) => {
    queue.push({ chunk, due: Date.now() + state.latencyMs });
    queued += chunk.length;
    state.peakBufferedBytes = Math.max(state.peakBufferedBytes, queued);
    // Backpressure: stop reading rather than hold more than the bound.
    if (!hasRoom()) src.pause();
    void flush();
  });
  src.on('end', () => {
    ended = true;
    void flush();
  });
  // Once the destination is gone nothing queued for it can be delivered.
  dst.on('close', () => {
    queue.length = 0;
    queued = 0;
  });

  async function flush(): Promise<void> {
    if (flushing) return;
    flushing = true;
    try {
      while (!dst.destroyed) {
        if (state.gate) {
          await state.gate.promise;
          continue;
        }
        const head = queue[0];
        if (!head) break;
        const wait = head.due - Date.now();
        if (wait > 0) {
          await sleep(wait);
          continue;
        }
        queue.shift();
        queued -= head.chunk.length;
        forwarded(head.chunk.length);
        const flushed = dst.write(head.chunk);
        if (hasRoom() && src.isPaused() && !state.gate && !src.destroyed) src.resume();
        if (!flushed) await drained(dst);
      }
      if (ended && queue.length === 0 && !dst.destroyed && !dst.writableEnded) dst.end();
    } finally {
      flushing = false;
    }
  }

  return { wake, queued: () => queued };
}

/** Resolves when the socket can take more writes, or will never need to. */
function drained(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

/** Closes with an RST, which clients report as ECONNRESET: a server that is down, not one that said goodbye. */
function reset(socket: net.Socket): void {
  if (!socket.destroyed) socket.resetAndDestroy();
}
