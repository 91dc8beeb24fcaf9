// The fleet behind Debian's PgBouncer in transaction pooling, as managed PostgreSQL is usually reached: the producer
// and a worker (compiled apps) with DATABASE_PREPARE=false ingest a document end to end and roll a failure back;
// concurrent migrators serialise on a lock that leaves nothing behind; and why the setting exists (PgBouncer 1.18
// has no max_prepared_statements, so a named statement prepared on one server connection is missing on another).
import { rm } from 'node:fs/promises';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateSagaCore } from '@ingest/saga-core';
import { migrateStorage } from '@ingest/storage';
import { createTestDatabase, startPgBouncer, stopAllProcesses, waitFor, type PgBouncer, type TestDatabase } from '@ingest/testkit';
import { sha256Of, type ProducerApi } from './producer-api.ts';
import { MiB, NOTHING_LEFT, createE2eWorld, type E2eWorld } from './world.ts';

// Server connections per database: fewer than the apps' pools, so transactions really move between connections.
const POOL_SIZE = 4;

describe('the fleet behind PgBouncer (transaction pooling)', () => {
  let bouncer: PgBouncer;
  let w: E2eWorld;
  let api: ProducerApi;

  beforeAll(async () => {
    bouncer = await startPgBouncer({ poolSize: POOL_SIZE });
    w = await createE2eWorld({ DATABASE_PREPARE: 'false' }, { routeDatabase: (url) => bouncer.url(url) });
    api = (await w.startProducer()).api;
    await w.startWorker('worker-1');
  });

  afterAll(async () => {
    await stopAllProcesses();
    await w?.close();
    await bouncer?.stop();
  });

  it('ingests a document end to end through PgBouncer: completed, content byte-identical, consistent', async () => {
    const bytes = await w.writeSource('through-bouncer.bin', 12 * MiB);
    const sagaId = await api.submit({ filePath: 'through-bouncer.bin', metadata: { title: 'Through PgBouncer', securityLevel: 'internal' } });
    const s = await api.waitForEnd(sagaId);
    expect(s).toMatchObject({ status: 'completed', state: 'completed', success: true, errors: [] });
    if (s.documentId === null) throw new Error('a completed saga reports its document id');
    expect(await api.readContent(s.documentId)).toMatchObject({ status: 200, sha256: sha256Of(bytes), bytes: bytes.length });
    expect((await w.checkConsistency()).violations).toEqual([]);
    // The apps did reach the database through the bouncer (it logs each client login).
    const dbName = new URL(w.env.DATABASE_URL ?? '').pathname.slice(1);
    expect(bouncer.proc.output().filter((l) => l.includes(`login attempt: db=${dbName}`)).length).toBeGreaterThan(1);
    expect(new URL(w.env.DATABASE_URL ?? '').port).toBe(String(bouncer.port));
  });

  it('FILE_NOT_FOUND through PgBouncer: the source deleted during the upload rolls the saga back, nothing left', async () => {
    await w.writeSource('deleted.bin', 4 * 5 * MiB);
    const hold = w.s3Proxy.failWhen({ kind: 'put', key: /\/00000001$/, times: 1, action: { type: 'stall' } });
    const sagaId = await api.submit({ filePath: 'deleted.bin', metadata: { title: 'Deleted behind PgBouncer' } });
    await waitFor(() => hold.matches() === 1, { timeoutMs: 60_000, what: "chunk 1's PUT to be on its way" });
    await rm(w.sourcePath('deleted.bin'));
    hold.remove();
    const s = await api.waitForEnd(sagaId);
    expect(s).toMatchObject({ status: 'compensated', state: 'rolled_back', rollbackStatus: 'success', failure: { reason: 'FILE_NOT_FOUND', step: 'chunked_upload' } });
    expect(await w.leftoversOf(await w.idsOf(sagaId))).toEqual(NOTHING_LEFT);
  });

  describe('on a database of its own', () => {
    let db: TestDatabase;
    let direct: Sql;
    beforeAll(async () => {
      db = await createTestDatabase('bouncer');
      direct = postgres(db.url, { max: 2, onnotice: () => {} });
    });
    afterAll(async () => {
      await direct?.end();
      await db?.drop();
    });

    it('concurrent migrators through PgBouncer serialise and leave no advisory lock held', async () => {
      const pools = [0, 1, 2].map(() => postgres(bouncer.url(db.url), { max: 4, prepare: false, onnotice: () => {} }));
      try {
        await Promise.all(pools.map(async (sql) => Promise.all([migrateStorage(sql), migrateSagaCore(sql)])));
      } finally {
        await Promise.all(pools.map((sql) => sql.end({ timeout: 5 })));
      }
      const [locks] = await direct<{ n: number }[]>`
        select count(*)::int as n from pg_locks l join pg_database d on d.oid = l.database
        where l.locktype = 'advisory' and d.datname = ${db.name}`;
      expect(locks?.n).toBe(0);
      const [tables] = await direct<{ n: number }[]>`
        select count(*)::int as n from information_schema.tables where table_name in ('saga_instances', 'upload_chunks')`;
      expect(tables?.n).toBe(2);
    });

    it("named prepared statements break transactions across server connections on Debian's PgBouncer: why DATABASE_PREPARE=false", async () => {
      expect(bouncer.version).toMatch(/^PgBouncer 1\.(1\d|20)\./);
      const named = postgres(bouncer.url(db.url), { max: 1, prepare: true, onnotice: () => {} });
      const holders = postgres(bouncer.url(db.url), { max: POOL_SIZE - 1, prepare: false, onnotice: () => {} });
      const releases: (() => void)[] = [];
      const held: Promise<unknown>[] = [];
      try {
        const [first] = await named<{ pid: number }[]>`select pg_backend_pid() as pid where ${1}::int = 1`;
        // Hold transactions open until the server connection that prepared the statement is one of them; the named
        // client must then run on another server connection, where its statement was never prepared.
        let taken = false;
        for (let i = 0; i < POOL_SIZE - 1 && !taken; i++) {
          const pid = await new Promise<number>((resolvePid, reject) => {
            held.push(
              holders
                .begin(async (tx) => {
                  const [row] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
                  resolvePid(row?.pid ?? -1);
                  await new Promise<void>((release) => releases.push(release));
                })
                .catch(reject),
            );
          });
          taken = pid === first?.pid;
        }
        expect(taken).toBe(true);
        // postgres.js re-prepares a missing statement once, which rescues a lone statement but not one inside a
        // transaction: the first error has already aborted it. The engine's steps are transactions.
        const inTransaction = named.begin((tx) => tx<{ pid: number }[]>`select pg_backend_pid() as pid where ${1}::int = 1`);
        await expect(inTransaction).rejects.toMatchObject({ code: '26000' });
      } finally {
        for (const release of releases) release();
        await Promise.allSettled(held);
        await Promise.all([named.end({ timeout: 5 }), holders.end({ timeout: 5 })]);
      }
    });
  });
});
