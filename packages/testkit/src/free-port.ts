// A TCP port on 127.0.0.1 that nothing listens on right now, for a server a test starts itself.
import net from 'node:net';

/** Asks the kernel for a free port (listen on 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
