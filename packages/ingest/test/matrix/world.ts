// A matrix test's world: the ingestion harness (own database, bucket, queue prefix, sources) with fault points in
// front of every service the saga touches: an S3 fault proxy (per-request faults) behind a TCP proxy (network
// faults), and one TCP proxy per downstream store's database. Faults are injected there, never in our code.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { flushPrefix, randomId, requireEnv, startS3FaultProxy, startTcpProxy, type S3FaultProxy, type TcpProxy } from '@ingest/testkit';
import { queueName } from '@ingest/saga-core';
import {
  INGEST_SAGA,
  INGEST_STEPS,
  checkInvariants,
  connectInvariantDeps,
  createIngestRuntime,
  loadConfig,
  type IngestConfig,
  type IngestRuntime,
  type InvariantConnections,
  type InvariantReport,
  type RowStore,
} from '../../src/index.ts';
import { createIngestHarness, type IngestHarness } from '../harness.ts';

/** The saga's steps, in order. */
export const STEPS = INGEST_STEPS;
/** One of STEPS. */
export type StepName = (typeof STEPS)[number];

/** A world with its fault points. */
export interface MatrixWorld {
  h: IngestHarness;
  /** Every S3 request of runtimes made by runtime() passes here (per-request faults, refused deletes). */
  s3: S3FaultProxy;
  /** ...and then here (the network to S3: refuse, pause, drop). */
  s3Net: TcpProxy;
  /** The network to each downstream store's database. */
  db: Record<RowStore, TcpProxy>;
  /**
   * A runtime whose S3 and store traffic goes through the fault points, on the current test's queue prefix (so
   * every runtime of one test shares its queues); workers not started. Closed by endTest().
   */
  runtime(overrides?: Settings): Promise<IngestRuntime>;
  /** The settings runtime() would use, as environment variables for a worker process of this test. */
  env(overrides?: Settings): Record<string, string>;
  /** A runtime consuming every queue but `held` (a saga waits before a held queue until release() consumes it). */
  runtimeHolding(held: readonly string[], overrides?: Settings): Promise<IngestRuntime>;
  /** A second runtime on the same queues consuming only `queues`: what was held goes on. */
  release(queues: readonly string[], overrides?: Settings): Promise<IngestRuntime>;
  /** Closes this test's runtimes, lifts every fault and starts a fresh queue prefix for the next test. */
  endTest(): Promise<void>;
  /** The checker over this world, read directly (not through the fault points). */
  check(options?: { deep?: boolean; overdueGraceMs?: number }): Promise<InvariantReport>;
  /** The source's SHA-256, to prove a saga never touched it. */
  sourceDigest(name: string): Promise<string>;
  /** Lifts every fault. */
  heal(): void;
  close(): Promise<void>;
}

/** Settings overrides, as environment strings. */
export type Settings = Partial<Record<keyof IngestConfig, string>>;

/** The queue of a step's action. */
export function doQueue(step: StepName): string {
  return queueName(INGEST_SAGA, step, 'action');
}

/** The queue of a step's compensation. */
export function undoQueue(step: StepName): string {
  return queueName(INGEST_SAGA, step, 'compensation');
}

/** Builds the world; `base` overrides the harness's settings. */
export async function createMatrixWorld(base: Settings = {}): Promise<MatrixWorld> {
  // A short S3 call timeout: rows that hold PUTs wait it out before the rollback may start.
  const h = await createIngestHarness({ S3_CALL_TIMEOUT_MS: '8000', ...base });
  const s3 = await startS3FaultProxy({ target: h.config.S3_ENDPOINT! });
  const s3Net = await startTcpProxy({ targetHost: '127.0.0.1', targetPort: s3.port });
  const pg = new URL(h.db.url);
  const proxy = () => startTcpProxy({ targetHost: pg.hostname, targetPort: Number(pg.port) });
  const db: Record<RowStore, TcpProxy> = { relational: await proxy(), vector: await proxy(), graph: await proxy(), security: await proxy() };
  let checker: InvariantConnections | undefined;
  const settings: Settings = {};
  for (const [k, v] of Object.entries(h.config)) if (v !== undefined) settings[k as keyof IngestConfig] = String(v);
  let prefix = `m${randomId()}`;
  let runtimes: IngestRuntime[] = [];
  const world: MatrixWorld = {
    h,
    s3,
    s3Net,
    db,
    env(overrides = {}) {
      const out: Record<string, string> = {
        ...(settings as Record<string, string>),
        REDIS_URL: requireEnv('REDIS_URL'),
        QUEUE_PREFIX: prefix,
        S3_ENDPOINT: s3Net.urlFor(s3.endpoint),
        RELATIONAL_DATABASE_URL: db.relational.urlFor(h.db.url),
        VECTOR_DATABASE_URL: db.vector.urlFor(h.db.url),
        GRAPH_DATABASE_URL: db.graph.urlFor(h.db.url),
        SECURITY_DATABASE_URL: db.security.urlFor(h.db.url),
      };
      for (const [k, v] of Object.entries(overrides)) if (v !== undefined) out[k] = v;
      return out;
    },
    async runtime(overrides = {}) {
      const config = loadConfig(process.env, world.env(overrides));
      const rt = await createIngestRuntime(config, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), role: 'test' });
      runtimes.push(rt);
      return rt;
    },
    async runtimeHolding(held, overrides = {}) {
      const rt = await world.runtime(overrides);
      const skip = new Set(held);
      await rt.startWorkers({ concurrency: 2, queues: rt.engine.queueNames().filter((q) => !skip.has(q)) });
      return rt;
    },
    async release(queues, overrides = {}) {
      const rt = await world.runtime(overrides);
      await rt.startWorkers({ concurrency: 2, queues: [...queues] });
      return rt;
    },
    async endTest() {
      world.heal();
      const closing = runtimes;
      const used = new Set([prefix, ...closing.map((rt) => rt.config.QUEUE_PREFIX)]);
      runtimes = [];
      prefix = `m${randomId()}`;
      for (const rt of closing) await rt.close();
      for (const p of used) await flushPrefix(requireEnv('REDIS_URL'), p);
    },
    async check(options = {}) {
      checker ??= connectInvariantDeps(h.config);
      return checkInvariants(checker, { overdueGraceMs: options.overdueGraceMs ?? 60_000, deep: options.deep ?? false });
    },
    async sourceDigest(name) {
      const hash = createHash('sha256');
      for await (const piece of createReadStream(path.join(h.root, name))) hash.update(piece as Buffer);
      return hash.digest('hex');
    },
    heal() {
      s3.clearRules();
      s3Net.accept();
      s3Net.resume();
      s3Net.setLatency(0);
      for (const p of Object.values(db)) {
        p.accept();
        p.resume();
      }
    },
    async close() {
      await world.endTest();
      await h.close();
      await checker?.close();
      for (const p of Object.values(db)) await p.close();
      await s3Net.close();
      await s3.close();
    },
  };
  return world;
}

/** Matches the key of chunk `index` of any operation (each world has its own bucket). */
export function chunkAt(index: number | 'any' | 'after0'): RegExp {
  if (index === 'any') return /^chunks\/[^/]+\/\d{8}$/;
  if (index === 'after0') return /^chunks\/[^/]+\/(?!00000000)\d{8}$/;
  return new RegExp(`^chunks/[^/]+/${String(index).padStart(8, '0')}$`);
}
