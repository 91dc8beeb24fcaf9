// Test harness: a fresh database, a random queue prefix, an engine over the real Redis and PostgreSQL.
import postgres, { type Sql } from 'postgres';
import pino from 'pino';
import { createTestDatabase, randomId, requireEnv, waitFor, type TestDatabase } from '@ingest/testkit';
import { createSagaEngine, migrateSagaCore, type SagaDefinition, type SagaEngine, type SagaEngineOptions, type SagaView } from '../src/index.ts';
import { createEffectTables } from './fixtures/test-sagas.ts';

/** Resources of one test file. */
export interface Harness {
  db: TestDatabase;
  sql: Sql;
  prefix: string;
  redisUrl: string;
  engines: SagaEngine[];
  engine(sagas: SagaDefinition[], options?: Partial<SagaEngineOptions>): Promise<SagaEngine>;
  waitForEnd(engine: SagaEngine, sagaId: string, timeoutMs?: number): Promise<SagaView>;
  close(): Promise<void>;
}

/** Sets up a database with the effect tables and a fresh prefix. */
export async function createHarness(): Promise<Harness> {
  const db = await createTestDatabase('saga');
  const sql = postgres(db.url, { max: 10, onnotice: () => {} });
  // What `npm run migrate` does before a fleet starts; engines only check the version.
  await migrateSagaCore(sql);
  await createEffectTables(sql);
  const prefix = `t${randomId()}`;
  const redisUrl = requireEnv('REDIS_URL');
  const engines: SagaEngine[] = [];
  const h: Harness = {
    db,
    sql,
    prefix,
    redisUrl,
    engines,
    async engine(sagas, options = {}) {
      const e = await createSagaEngine({
        sql,
        redisUrl,
        sagas,
        prefix,
        logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
        leaseMs: 3000,
        abortGraceMs: 3000,
        ...options,
      });
      engines.push(e);
      return e;
    },
    async waitForEnd(engine, sagaId, timeoutMs = 30_000) {
      return waitFor(
        async () => {
          const v = await engine.get(sagaId);
          return v.status === 'running' || v.status === 'compensating' ? undefined : v;
        },
        { timeoutMs, what: `saga ${sagaId} to end` },
      );
    },
    async close() {
      for (const e of engines) await e.close();
      await sql.end();
      await db.drop();
    },
  };
  return h;
}

/** Effects of a saga, in the order they happened: ["reserve:do", ...]. */
export async function effectsOf(sql: Sql, sagaId: string): Promise<string[]> {
  const rows = await sql<{ step: string; kind: string }[]>`select step, kind from effects where saga_id = ${sagaId} and kind in ('do', 'undo') order by seq`;
  return rows.map((r) => `${r.step}:${r.kind}`);
}
