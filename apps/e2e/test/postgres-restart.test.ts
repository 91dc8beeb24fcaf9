// PostgreSQL restarts (and then drops every connection) under a working fleet: no process exits, each keeps its pid,
// and every saga ends consistent. This runs on a private set of services, since restarting the shared PostgreSQL would
// disturb every other test. The fault is real: the postmaster is stopped and started, backends are terminated.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServiceSet, freePort, stopAllProcesses, waitFor, type ServiceSet, type TestProcess } from '@ingest/testkit';
import { MiB, REPO_ROOT, createE2eWorld, type E2eWorld } from './world.ts';

const DOCUMENTS = 8;
const TERMINATION_ROUNDS = 6;


/** Whether the process is still the one we started (it never exited). */
function watch(proc: TestProcess): () => boolean {
  let exited = false;
  void proc.exited.then(() => (exited = true));
  return () => !exited;
}

describe('PostgreSQL restarts under the fleet', () => {
  let dir: string;
  let services: ServiceSet;
  let w: E2eWorld;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pg-restart-services-'));
    services = createServiceSet({ root: REPO_ROOT, dir, ports: { redis: await freePort(), postgres: await freePort(), s3: await freePort() } });
    // This file's processes (a vitest fork of its own) use the private set from here on.
    Object.assign(process.env, await services.start());
    w = await createE2eWorld({ UPLOAD_CONCURRENCY: '1' });
  });

  afterEach(async () => {
    await stopAllProcesses();
  });

  afterAll(async () => {
    await w?.close();
    await services?.stopAll();
    // services.sh keeps PostgreSQL's data outside the set's directory (see there).
    const pgData = (await readFile(path.join(dir, 'pg-data-dir'), 'utf8').catch(() => '')).trim();
    if (pgData) await rm(path.dirname(pgData), { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  });

  it('no worker or producer exits on a restart or on pg_terminate_backend; every saga ends consistent', async () => {
    const { proc: producer, api } = await w.startProducer();
    const worker = await w.startWorker('worker');
    const producerAlive = watch(producer);
    const workerAlive = watch(worker);
    const pids = { producer: producer.pid, worker: worker.pid };
    const expectAlive = (): void => {
      for (const [proc, alive] of [[producer, producerAlive], [worker, workerAlive]] as const) {
        if (!alive()) throw new Error(`${proc.name} (pid ${proc.pid}) exited; its last lines:\n${proc.output().slice(-12).join('\n')}`);
      }
    };

    // One PUT is held at the S3 proxy: that saga is mid-upload, its worker heartbeating, through both faults.
    const hold = w.s3Proxy.failWhen({ kind: 'put', times: 1, action: { type: 'stall' } });
    const sagas: string[] = [];
    for (let i = 0; i < DOCUMENTS; i++) {
      await w.writeSource(`doc-${i}.bin`, (i === 0 ? 12 : 1) * MiB);
      sagas.push(await api.submit({ filePath: `doc-${i}.bin`, metadata: { title: `document ${i}` } }));
    }
    await waitFor(() => hold.matches() === 1, { timeoutMs: 60_000, what: 'a chunk PUT to be held' });

    await services.restart('postgres', 1_500);
    expectAlive();

    const admin = postgres(process.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
    const database = new URL(w.env.DATABASE_URL!).pathname.slice(1);
    try {
      // Every connection of the fleet to the test database is cut while it is in use, several times over: each round
      // waits for the fleet to have reconnected, so the cuts also land on connections that are still starting up.
      for (let round = 0; round < TERMINATION_ROUNDS; round++) {
        await waitFor(
          async () => {
            const rows = await admin`select pid from pg_stat_activity where datname = ${database} and pid <> pg_backend_pid()`;
            return rows.length > 0 ? rows : undefined;
          },
          { timeoutMs: 30_000, what: 'the fleet to reconnect to the database' },
        );
        await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${database} and pid <> pg_backend_pid()`;
      }
    } finally {
      await admin.end();
    }
    hold.remove();
    expectAlive();

    for (const sagaId of sagas) {
      const s = await api.waitForEnd(sagaId, 180_000).catch((err: unknown) => {
        expectAlive();
        throw err;
      });
      expect(['completed', 'compensated', 'failed']).toContain(s.status);
    }
    expectAlive();
    expect({ producer: producer.pid, worker: worker.pid }).toEqual(pids);
    expect(worker.output().join('\n')).not.toMatch(/Cannot read properties of null/);

    const janitor = await w.runJanitor();
    expect(janitor.exit.code).toBe(0);
    const report = await w.checkConsistency();
    expect(report.violations).toEqual([]);
  }, 400_000);

  it('a worker started while PostgreSQL is down waits for it, then becomes ready and works, with the same pid', async () => {
    await services.stop('postgres');
    const late = await w.spawnWorker('late-worker');
    const alive = watch(late);
    await late.waitForOutput(/services unreachable at start-up; waiting for them/, 60_000);
    await services.start();
    await late.waitForOutput(/"msg":"worker ready"/, 90_000);
    expect(alive()).toBe(true);

    const { api } = await w.startProducer();
    await w.writeSource('after-outage.bin', 2 * MiB);
    const sagaId = await api.submit({ filePath: 'after-outage.bin', metadata: { title: 'after the outage' } });
    expect((await api.waitForEnd(sagaId, 120_000)).status).toBe('completed');
    expect(alive()).toBe(true);
  }, 300_000);
});
