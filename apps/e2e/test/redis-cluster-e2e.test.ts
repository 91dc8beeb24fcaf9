// The fleet on a Redis Cluster of Debian's redis-server (3 masters, 3 replicas, loopback), as managed Redis in cluster
// mode is reached: REDIS_CLUSTER=true and a hash-tagged QUEUE_PREFIX. The compiled producer and workers ingest a
// document; a worker SIGKILLed mid-upload is taken over; and the master serving the fleet's slot is killed mid-saga:
// its replica takes over and no saga is lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomId, startRedisCluster, stopAllProcesses, waitFor, type RedisCluster, type TestProcess } from '@ingest/testkit';
import { sha256Of, type ProducerApi } from './producer-api.ts';
import { MiB, createE2eWorld, type E2eWorld } from './world.ts';

const RECOVERY_MS = 150_000;

describe('the fleet on a Redis Cluster (3 masters, 3 replicas)', () => {
  let cluster: RedisCluster;
  let w: E2eWorld;
  let api: ProducerApi;
  let fleet: TestProcess[];
  const prefix = `{e2e${randomId()}}`;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    // Every node as a seed, as a deployment lists its cluster's nodes: the URL's node may be the one that dies.
    w = await createE2eWorld({
      REDIS_URL: cluster.url,
      REDIS_CLUSTER: 'true',
      REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
      QUEUE_PREFIX: prefix,
    });
    api = (await w.startProducer()).api;
    fleet = await Promise.all([w.startWorker('worker-1'), w.startWorker('worker-2')]);
  });

  afterAll(async () => {
    await stopAllProcesses();
    await w?.close();
    await cluster?.stop();
  });

  it('ingests a document end to end; every queue and lock key sits in the prefix slot', async () => {
    const bytes = await w.writeSource('cluster.bin', 12 * MiB);
    const sagaId = await api.submit({ filePath: 'cluster.bin', metadata: { title: 'On a cluster' } });
    const s = await api.waitForEnd(sagaId);
    expect(s).toMatchObject({ status: 'completed', success: true, errors: [] });
    if (s.documentId === null) throw new Error('a completed saga reports its document id');
    expect(await api.readContent(s.documentId)).toMatchObject({ status: 200, sha256: sha256Of(bytes) });
    expect((await w.checkConsistency()).violations).toEqual([]);
    // The fleet's keys are all on the master of the prefix's slot (a cross-slot command would have failed anyway).
    const home = await cluster.masterOf(prefix);
    const keys = (await cluster.cli(home.port, '--scan', '--pattern', `${prefix}:*`)).split('\n').filter(Boolean);
    expect(keys.length).toBeGreaterThan(0);
    const slot = await cluster.cli(home.port, 'cluster', 'keyslot', prefix);
    for (const key of keys.slice(0, 50)) expect(await cluster.cli(home.port, 'cluster', 'keyslot', key), key).toBe(slot);
  });

  it('a replacement and a delete, each holding two exclusivity keys, run on the cluster (one script over both keys)', async () => {
    await w.writeSource('pair-v1.bin', 1024);
    const v1 = await api.waitForEnd(await api.submit({ filePath: 'pair-v1.bin', metadata: { title: 'Pair one' } }));
    if (v1.documentId === null) throw new Error('a completed saga reports its document id');
    const documentId = v1.documentId;
    await w.writeSource('pair-v2.bin', 1024);
    const replacement = await api.submit({ filePath: 'pair-v2.bin', metadata: { title: 'Pair two' }, replaces: documentId });
    expect(await api.waitForEnd(replacement)).toMatchObject({ status: 'completed', documentId });
    const deletion = await api.request('DELETE', `/v1/documents/${documentId}`);
    expect(deletion.status).toBe(202);
    expect(await api.waitForEnd((deletion.body as { sagaId: string }).sagaId)).toMatchObject({ status: 'completed' });
  });

  it(
    'a worker SIGKILLed mid-upload: the other one takes the saga over and commits it',
    async () => {
      const bytes = await w.writeSource('crash.bin', 6 * 5 * MiB);
      const slow = w.s3Proxy.failWhen({ kind: 'put', action: { type: 'delay', ms: 800 } });
      const sagaId = await api.submit({ filePath: 'crash.bin', metadata: { title: 'Crash on a cluster' } });
      await waitFor(async () => (await w.manifestKeys(sagaId)).length >= 2, { timeoutMs: 60_000, what: 'two chunks in the manifest' });
      const [lease] = await w.sql<{ owner: string | null }[]>`select lease_owner as owner from saga_instances where id = ${sagaId}`;
      const ownerPid = Number(/:(\d+):[0-9a-f]+$/.exec(lease?.owner ?? '')?.[1]);
      const victim = fleet.find((p) => p.pid === ownerPid);
      const survivor = fleet.find((p) => p.pid !== ownerPid);
      if (!victim || !survivor) throw new Error(`no worker holds the lease ${lease?.owner}`);
      victim.kill('SIGKILL');
      expect(await victim.exited).toEqual({ code: null, signal: 'SIGKILL' });
      slow.remove();
      const s = await api.waitForEnd(sagaId, RECOVERY_MS);
      expect(s).toMatchObject({ status: 'completed', success: true, errors: [] });
      if (s.documentId === null) throw new Error('a completed saga reports its document id');
      expect(await api.readContent(s.documentId)).toMatchObject({ status: 200, sha256: sha256Of(bytes) });
      expect(survivor.output().join('\n')).toMatch(/"msg":"resuming upload"/);
      fleet = [survivor, await w.startWorker('worker-3')];
    },
    RECOVERY_MS + 60_000,
  );

  it(
    "the master of the fleet's slot killed mid-saga: its replica takes over and every saga ends committed",
    async () => {
      const files = await Promise.all([0, 1, 2].map((i) => w.writeSource(`failover-${i}.bin`, 3 * 5 * MiB)));
      const slow = w.s3Proxy.failWhen({ kind: 'put', action: { type: 'delay', ms: 500 } });
      const sagaIds: string[] = [];
      for (let i = 0; i < files.length; i++) sagaIds.push(await api.submit({ filePath: `failover-${i}.bin`, metadata: { title: `Failover ${i}` } }));
      await waitFor(async () => (await w.manifestKeys(sagaIds[0] ?? '')).length >= 1, { timeoutMs: 60_000, what: 'the first upload to be under way' });
      const master = await cluster.masterOf(prefix);
      master.proc.kill('SIGKILL');
      await master.proc.exited;
      // The replica is promoted after the node timeout (2 s) and a vote; until then the slot is down.
      await waitFor(async () => (await cluster.masterOf(prefix).catch(() => undefined))?.port !== master.port || undefined, {
        timeoutMs: 60_000,
        intervalMs: 250,
        what: 'a replica to be promoted',
      });
      await cluster.waitHealthy();
      slow.remove();
      for (const [i, sagaId] of sagaIds.entries()) {
        const s = await api.waitForEnd(sagaId, RECOVERY_MS);
        expect(s, sagaId).toMatchObject({ status: 'completed', success: true, errors: [] });
        if (s.documentId === null) throw new Error('a completed saga reports its document id');
        expect(await api.readContent(s.documentId)).toMatchObject({ status: 200, sha256: sha256Of(files[i] ?? Buffer.alloc(0)) });
      }
      expect((await w.checkConsistency()).violations).toEqual([]);
      // The fleet is still serving after the failover: a new document goes through.
      const after = await w.writeSource('after-failover.bin', 5 * MiB);
      const s = await api.waitForEnd(await api.submit({ filePath: 'after-failover.bin', metadata: { title: 'After failover' } }), RECOVERY_MS);
      expect(s).toMatchObject({ status: 'completed', success: true });
      expect(after.length).toBe(5 * MiB);
    },
    RECOVERY_MS * 2,
  );
});
