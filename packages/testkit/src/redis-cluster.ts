// A Redis Cluster of Debian's redis-server on loopback: 3 masters and 3 replicas, so a master can fail over.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.ts';
import { spawnProcess, type TestProcess } from './processes.ts';
import { waitFor } from './wait-for.ts';

const run = promisify(execFile);

/** One node of the cluster: its port and its process. */
export interface RedisClusterNode {
  port: number;
  proc: TestProcess;
}

/** A running cluster; `url` names one node (a seed: clients discover the others). */
export interface RedisCluster {
  url: string;
  nodes: RedisClusterNode[];
  /** `redis-cli -p port ...` on one node; its trimmed output. */
  cli(port: number, ...args: string[]): Promise<string>;
  /** The node currently master of the slot `key` hashes to. */
  masterOf(key: string): Promise<RedisClusterNode>;
  /** Every live node reports cluster_state:ok and each slot has a master that is up. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts 3 masters with one replica each (node timeout 2 s, no persistence) and waits until the cluster is ok. */
export async function startRedisCluster(): Promise<RedisCluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'redis-cluster-'));
  const nodes: RedisClusterNode[] = [];
  for (let i = 0; i < 6; i++) {
    const [port, bus] = [await freePort(), await freePort()];
    const proc = await spawnProcess(
      'redis-server',
      ['--port', String(port), '--cluster-port', String(bus), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`,
        '--cluster-node-timeout', '2000', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no'],
      { name: `redis-cluster-${port}` },
    );
    await proc.waitForOutput(/Ready to accept connections/, 30_000);
    nodes.push({ port, proc });
  }
  const cli = async (port: number, ...args: string[]): Promise<string> =>
    (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 60_000 })).stdout.trim();
  await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'], { timeout: 120_000 });
  const exitedNodes = new Set<number>();
  for (const n of nodes) void n.proc.exited.then(() => exitedNodes.add(n.port));
  const alive = () => nodes.filter((n) => !exitedNodes.has(n.port));
  const cluster: RedisCluster = {
    url: `redis://127.0.0.1:${nodes[0]?.port ?? 0}`,
    nodes,
    cli,
    async masterOf(key) {
      const slot = await cli(alive()[0]?.port ?? 0, 'cluster', 'keyslot', key);
      const shards = await cli(alive()[0]?.port ?? 0, 'cluster', 'nodes');
      for (const line of shards.split('\n')) {
        const f = line.split(' ');
        if (!f[2]?.includes('master') || f[2].includes('fail')) continue;
        const ranges = f.slice(8);
        const s = Number(slot);
        if (ranges.some((r) => (r.includes('-') ? Number(r.split('-')[0]) <= s && s <= Number(r.split('-')[1]) : Number(r) === s))) {
          const port = Number(f[1]?.split(':')[1]?.split('@')[0]);
          const node = nodes.find((n) => n.port === port);
          if (node) return node;
        }
      }
      throw new Error(`no master serves slot ${slot} of ${key}`);
    },
    async waitHealthy(timeoutMs = 60_000) {
      await waitFor(
        async () => {
          for (const n of alive()) {
            const info = await cli(n.port, 'cluster', 'info').catch(() => '');
            if (!info.includes('cluster_state:ok')) return undefined;
          }
          return true;
        },
        { timeoutMs, intervalMs: 200, what: 'the Redis Cluster to report cluster_state:ok' },
      );
    },
    async stop() {
      for (const n of nodes) n.proc.kill('SIGKILL');
      await Promise.all(nodes.map((n) => n.proc.exited));
      await rm(dir, { recursive: true, force: true });
    },
  };
  await cluster.waitHealthy();
  return cluster;
}
