// Debian's PgBouncer on loopback in front of the test PostgreSQL, in transaction pooling, as managed databases run it.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureDebianTool } from './debian-tool.ts';
import { freePort } from './free-port.ts';
import { spawnProcess, type TestProcess } from './processes.ts';
import { requireEnv } from './database.ts';

/** Options of startPgBouncer. */
export interface PgBouncerOptions {
  /** Loopback port to listen on. Default: a free one. */
  port?: number;
  /** Server connections per database and user; small, so transactions really share server connections. Default 4. */
  poolSize?: number;
}

/** A running PgBouncer: `url(direct)` rewrites a database URL of the test server to go through it. */
export interface PgBouncer {
  port: number;
  proc: TestProcess;
  /** The same database, user and password as `directUrl`, reached through PgBouncer. */
  url(directUrl: string): string;
  /** The PgBouncer version line (`PgBouncer 1.18.0`, ...). */
  version: string;
  stop(): Promise<void>;
}

/** Starts PgBouncer (installing Debian's package when missing) in transaction pooling in front of DATABASE_URL's server. */
export async function startPgBouncer(options: PgBouncerOptions = {}): Promise<PgBouncer> {
  const port = options.port ?? (await freePort());
  const binary = await ensureDebianTool('pgbouncer', 'pgbouncer');
  const server = new URL(requireEnv('DATABASE_URL'));
  const dir = await mkdtemp(path.join(tmpdir(), 'pgbouncer-'));
  // PgBouncer refuses to run as root; it drops to `postgres` (-u), who must read its configuration.
  await chmod(dir, 0o755);
  const user = decodeURIComponent(server.username || 'postgres');
  const password = decodeURIComponent(server.password);
  const ini = path.join(dir, 'pgbouncer.ini');
  await writeFile(
    ini,
    [
      '[databases]',
      // Any database name falls through to the same server, so each test file's own database is reachable.
      `* = host=${server.hostname} port=${server.port || '5432'} user=${user}${password ? ` password=${password}` : ''}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = any',
      'pool_mode = transaction',
      `default_pool_size = ${options.poolSize ?? 4}`,
      'max_client_conn = 500',
      'ignore_startup_parameters = extra_float_digits,options',
      'server_reset_query =',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  const proc = await spawnProcess(binary, ['-u', 'postgres', ini], { name: 'pgbouncer' });
  const up = await proc.waitForOutput(/process up: (PgBouncer [\d.]+)/, 30_000);
  const version = up.match[1] ?? 'PgBouncer';
  return {
    port,
    proc,
    version,
    url(directUrl) {
      const u = new URL(directUrl);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    async stop() {
      proc.kill('SIGINT');
      await proc.exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
