// The saga engine's overhead: N sagas of 9 no-op steps against DBOS Transact (a durable workflow of 9 no-op steps, on the
// same PostgreSQL) and a plain chain of 9 no-op BullMQ jobs. Since the steps do nothing, everything measured is each
// system's own cost: PostgreSQL state, outbox and events per hop for the engine, its step checkpoints for DBOS.
// Usage: npm run bench:engine -- [--sagas N] [--in-flight F] [--concurrency C] [--warmup W] [--rounds R] [--no-write]
//        (or BENCH_SAGAS, BENCH_IN_FLIGHT, BENCH_CONCURRENCY, BENCH_WARMUP, BENCH_ROUNDS in the environment)
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import { DBOS } from '@dbos-inc/dbos-sdk';
import { Redis } from 'ioredis';
import pino from 'pino';
import postgres, { type Sql } from 'postgres';
import { createSagaEngine, defineSaga, type SagaDefinition, type SagaEngine } from '@ingest/saga-core';
import { hasFlag, intOption, requireServiceEnv } from './lib/cli.ts';
import { fmt, markdownTable, upsertSection } from './lib/report.ts';
import { createScratchDatabase, deleteRedisPrefix, readXactCounters, type ScratchDatabase } from './lib/scratch.ts';
import { backendCpuDelta, backendCpuMs, machineCpuMs, processCpuMs, redisCpuMs } from './lib/cpu.ts';
import { startProfile } from './lib/profile.ts';
import { Batch, percentile, type BatchResult } from './lib/stats.ts';

const STEPS = 9;
const SAGA_NAME = 'bench9';
const PLAIN_NAME = 'plain9';
// The pool size the engine is documented with; the workers of all queues share it.
const POOL_MAX = 20;
// Enough sagas to make per-saga counts exact averages, few enough that the counting pass stays a few seconds.
const ACCOUNTING_MAX = 100;
// Units run one at a time after the batch: latency without queueing, i.e. the cost of the hops themselves.
const ALONE = 20;
const DEFAULTS = { sagas: 300, inFlight: 64, concurrency: 8, warmup: 10, rounds: 3 } as const;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Options {
  sagas: number;
  /** Units kept in flight in the windowed rounds (a new one starts as one ends). */
  inFlight: number;
  concurrency: number;
  warmup: number;
  rounds: number;
  write: boolean;
}

interface Services {
  db: ScratchDatabase;
  redisUrl: string;
  /** For sampling Redis' CPU counters. */
  redis: Redis;
  prefix: string;
}

/** What one saga costs PostgreSQL, counted on a separate pass (counting itself costs time, so it is not in the timed runs). */
interface Accounting {
  sagas: number;
  xactsPerSaga: number;
  statementsPerSaga: number;
  lockingSelectsPerSaga: number;
  /** Statements of start() (each its own transaction). */
  startStatementsPerSaga: number;
  /** pg_stat_database's count, less what the client saw outside the sagas (pool set-up, shutdown): the server-side check. */
  serverXactsPerSaga: number;
  serverRollbacks: number;
  eventsPerSaga: number;
  outboxPerSaga: number;
  enqueuedPerSaga: number;
}

interface EngineRun extends VariantRun {
  /** finished_at − created_at as PostgreSQL recorded it: an independent check of the in-process latencies. */
  dbP50Ms: number;
  dbP99Ms: number;
}

const silent = pino({ level: 'silent' });

// Printed for --help.
function usage(): string {
  return 'usage: npm run bench:engine -- [--sagas N] [--in-flight F] [--concurrency C] [--warmup W] [--rounds R] [--no-write]';
}

// Flags first, then BENCH_* variables, then the defaults of the issue (300 sagas, concurrency 8).
function parseOptions(argv: readonly string[]): Options {
  return {
    sagas: intOption(argv, '--sagas', 'BENCH_SAGAS', DEFAULTS.sagas),
    inFlight: intOption(argv, '--in-flight', 'BENCH_IN_FLIGHT', DEFAULTS.inFlight),
    concurrency: intOption(argv, '--concurrency', 'BENCH_CONCURRENCY', DEFAULTS.concurrency),
    warmup: intOption(argv, '--warmup', 'BENCH_WARMUP', DEFAULTS.warmup, 0),
    rounds: intOption(argv, '--rounds', 'BENCH_ROUNDS', DEFAULTS.rounds),
    write: !hasFlag(argv, '--no-write'),
  };
}

// Generous on a loaded 2-core machine, but a lost saga still fails the run in minutes rather than hanging it.
function batchTimeoutMs(n: number): number {
  return 60_000 + n * 200;
}

// Nine steps that do nothing, so that whatever a saga costs is the engine's.
function benchSaga(): SagaDefinition {
  return defineSaga({
    name: SAGA_NAME,
    steps: Array.from({ length: STEPS }, (_, i) => ({
      name: `s${i}`,
      async action() {
        return null;
      },
      // Never runs (nothing fails); present so the engine provisions undo queues as a real saga would.
      async compensation() {},
    })),
  });
}

// BullMQ wants host/port options; the same options as the engine's connections (no per-request retry limit).
function bullConnection(redisUrl: string): ConnectionOptions {
  const url = new URL(redisUrl);
  return { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null, enableReadyCheck: false };
}

/** Where end events go: the batch running now. */
interface Tracker {
  end(id: string, failure?: string): void;
}

/** One of the things compared: how to start a unit (saga, workflow or chain) whose end event reports to `track`. */
interface Variant {
  launch(id: string, i: number): Promise<unknown>;
  track: { current: Tracker | undefined };
}

/** CPU per unit over all timed rounds: where a CPU-bound throughput's ceiling comes from. */
interface CpuPerUnit {
  nodeMs: number;
  pgMs: number;
  /** Server-wide: includes whatever else uses the shared Redis meanwhile. */
  redisMs: number;
  /** Share of the machine's CPU time that was busy during the batch (any process), NaN off Linux. */
  machineBusy: number;
  /** Share of that busy time that was this run's (Node, its PostgreSQL backends, Redis): the rest was other work. */
  ownShare: number;
}

/** A variant's numbers: windowed rounds (the headline), all-at-once rounds, CPU during the windowed ones, one at a time. */
interface VariantRun {
  /** The median windowed round (by throughput); `ids` are its units. */
  result: BatchResult;
  ids: string[];
  /** Slowest and fastest windowed round, sagas/s. */
  perSecondRange: [number, number];
  /** The median all-at-once round, and the range. */
  allAtOnce: BatchResult;
  allAtOnceRange: [number, number];
  cpu: CpuPerUnit;
  aloneP50Ms: number;
  aloneP99Ms: number;
}

/** Starts `n` units at once and times each from its start call to its end event. */
async function batchOf(v: Variant, n: number, what: string): Promise<{ result: BatchResult; ids: string[] }> {
  const batch = new Batch(n);
  v.track.current = batch;
  // Ids chosen up front so that a unit ending before its start call returns is still attributed to its batch.
  const ids = Array.from({ length: n }, () => randomUUID());
  await Promise.all(
    ids.map((id, i) => {
      batch.begin(id);
      return v.launch(id, i);
    }),
  );
  const result = await batch.wait(batchTimeoutMs(n), what);
  v.track.current = undefined;
  return { result, ids };
}

/** Runs `n` units keeping `inFlight` of them in flight: each end starts the next. */
async function windowOf(v: Variant, n: number, inFlight: number, what: string): Promise<{ result: BatchResult; ids: string[] }> {
  const batch = new Batch(n);
  const ids = Array.from({ length: n }, () => randomUUID());
  const mine = new Set<string>(ids);
  let next = 0;
  const launchNext = (): void => {
    if (next >= n) return;
    const i = next++;
    const id = ids[i]!;
    batch.begin(id);
    v.launch(id, i).catch((err: unknown) => v.track.current?.end(id, String(err)));
  };
  v.track.current = {
    end(id, failure) {
      if (!mine.has(id)) return;
      mine.delete(id);
      batch.end(id, failure);
      launchNext();
    },
  };
  for (let k = 0; k < Math.min(inFlight, n); k++) launchNext();
  const result = await batch.wait(batchTimeoutMs(n), what);
  v.track.current = undefined;
  return { result, ids };
}

/** The median of rounds by throughput, and the slowest and fastest. */
function medianRound(rounds: { result: BatchResult; ids: string[] }[]): { median: { result: BatchResult; ids: string[] }; range: [number, number] } {
  const sorted = [...rounds].sort((a, b) => a.result.perSecond - b.result.perSecond);
  return { median: sorted[Math.floor((sorted.length - 1) / 2)]!, range: [sorted[0]!.result.perSecond, sorted[sorted.length - 1]!.result.perSecond] };
}

/**
 * Warm-up (not counted), `rounds` timed batches with CPU samples around them, then a few units one at a time. The round
 * with the median throughput is reported: on a shared machine one burst of someone else's work can halve a short batch.
 */
async function runVariant(v: Variant, o: Options, s: Services, what: string): Promise<VariantRun> {
  if (o.warmup > 0) await batchOf(v, o.warmup, `${what} warm-up`);
  const rounds: { result: BatchResult; ids: string[] }[] = [];
  const machine0 = machineCpuMs();
  const node0 = processCpuMs();
  const pg0 = await backendCpuMs(s.db.admin, s.db.name);
  const redis0 = await redisCpuMs(s.redis);
  for (let r = 1; r <= o.rounds; r++) rounds.push(await windowOf(v, o.sagas, o.inFlight, `${what} round ${r} (${o.inFlight} in flight)`));
  const node1 = processCpuMs();
  const pg1 = await backendCpuMs(s.db.admin, s.db.name);
  const redis1 = await redisCpuMs(s.redis);
  const machine1 = machineCpuMs();
  const units = o.sagas * o.rounds;
  const [nodeMs, pgMs, redisMs] = [node1 - node0, backendCpuDelta(pg0, pg1), redis1 - redis0];
  const machineBusyMs = machine0 && machine1 ? machine1.busyMs - machine0.busyMs : Number.NaN;
  const machineBusy = machine0 && machine1 ? machineBusyMs / (machine1.totalMs - machine0.totalMs) : Number.NaN;
  const all: { result: BatchResult; ids: string[] }[] = [];
  for (let r = 1; r <= o.rounds; r++) all.push(await batchOf(v, o.sagas, `${what} round ${r} (all at once)`));
  const alone: number[] = [];
  for (let i = 0; i < ALONE; i++) alone.push(...(await batchOf(v, 1, `${what} (one at a time)`)).result.latenciesMs);
  const windowed = medianRound(rounds);
  const burst = medianRound(all);
  return {
    ...windowed.median,
    perSecondRange: windowed.range,
    allAtOnce: burst.median.result,
    allAtOnceRange: burst.range,
    cpu: { nodeMs: nodeMs / units, pgMs: pgMs / units, redisMs: redisMs / units, machineBusy, ownShare: (nodeMs + pgMs + redisMs) / machineBusyMs },
    aloneP50Ms: percentile(alone, 50),
    aloneP99Ms: percentile(alone, 99),
  };
}

// Routes the engine's end events to whichever batch is running; a saga that did not complete fails the batch.
function onSagaEnded(engine: SagaEngine, track: { current: Tracker | undefined }): void {
  engine.on('saga_ended', (e) => {
    if (typeof e.sagaId !== 'string') return;
    track.current?.end(e.sagaId, e.status === 'completed' ? undefined : `ended ${String(e.status)}`);
  });
}

// The engine as a Variant: a unit is one start() with a caller-chosen saga id.
function engineVariant(engine: SagaEngine): Variant {
  const track: { current: Tracker | undefined } = { current: undefined };
  onSagaEnded(engine, track);
  return { track, launch: (sagaId, i) => engine.start(SAGA_NAME, { n: i }, { sagaId }) };
}

// Closers of whatever is open right now (engine, pool, workers): Ctrl-C must stop the work before removing its database.
const openResources = new Set<() => Promise<void>>();

/** Runs `body` with `close` registered for Ctrl-C, and closes once whichever way it ends. */
async function holding<T>(close: () => Promise<unknown>, body: () => Promise<T>): Promise<T> {
  let closing: Promise<void> | undefined;
  const once = (): Promise<void> => (closing ??= close().then(() => undefined));
  openResources.add(once);
  try {
    return await body();
  } finally {
    openResources.delete(once);
    await once();
  }
}

/** An engine on its own pool over the scratch database, workers started, closed (engine, then pool) after `body`. */
async function withEngine<T>(o: Options, s: Services, pool: Partial<postgres.Options<Record<string, never>>>, migrate: boolean, body: (v: Variant, sql: Sql) => Promise<T>): Promise<T> {
  const sql = postgres(s.db.url, { max: POOL_MAX, onnotice: () => undefined, ...pool });
  return holding(
    () => sql.end({ timeout: 5 }),
    async () => {
      const engine = await createSagaEngine({ sql, redisUrl: s.redisUrl, sagas: [benchSaga()], prefix: s.prefix, logger: silent, migrate });
      return holding(
        () => engine.close(),
        async () => {
          const v = engineVariant(engine);
          // No maintenance timer: its relay and recovery queries would land in the measurement at random.
          await engine.startWorkers({ concurrency: o.concurrency, maintenanceIntervalMs: 0 });
          return body(v, sql);
        },
      );
    },
  );
}

/** The timed engine run, checked against what PostgreSQL recorded. */
async function benchEngine(o: Options, s: Services): Promise<EngineRun> {
  return withEngine(o, s, {}, true, async (v, sql) => {
    const run = await runVariant(v, o, s, 'engine');
    const [db] = await sql<{ completed: number; p50: number | null; p99: number | null }[]>`
      select count(*)::int as completed,
             percentile_disc(0.5) within group (order by extract(epoch from finished_at - created_at) * 1000)::float8 as p50,
             percentile_disc(0.99) within group (order by extract(epoch from finished_at - created_at) * 1000)::float8 as p99
      from saga_instances where id in ${sql(run.ids)} and status = 'completed'`;
    if (db?.completed !== o.sagas) throw new Error(`engine: PostgreSQL has ${db?.completed ?? 0} of ${o.sagas} sagas completed`);
    return { ...run, dbP50Ms: db.p50 ?? Number.NaN, dbP99Ms: db.p99 ?? Number.NaN };
  });
}

/** The peer: queue per step, Worker per queue, each processor enqueuing the next job; the last job's completion ends a chain. */
async function benchPlain(o: Options, s: Services): Promise<VariantRun> {
  const connection = bullConnection(s.redisUrl);
  const names = Array.from({ length: STEPS }, (_, i) => `${PLAIN_NAME}.s${i}`);
  // Like the engine: finished jobs are removed, so Redis does the same bookkeeping per job in both variants.
  const jobOptions = { removeOnComplete: true, removeOnFail: { count: 1000 } } as const;
  const queues = names.map((name) => new Queue<{ chainId: string }>(name, { connection, prefix: s.prefix }));
  const track: { current: Tracker | undefined } = { current: undefined };
  const workers = names.map(
    (name, i) =>
      new Worker<{ chainId: string }>(
        name,
        async (job) => {
          const next = queues[i + 1];
          if (next) await next.add('step', job.data, jobOptions);
        },
        { connection, prefix: s.prefix, concurrency: o.concurrency },
      ),
  );
  workers[STEPS - 1]!.on('completed', (job) => track.current?.end(job.data.chainId));
  for (const w of workers) w.on('failed', (job, err) => job && track.current?.end(job.data.chainId, err.message));
  const close = async (): Promise<void> => {
    await Promise.all(workers.map((w) => w.close()));
    await Promise.all(queues.map((q) => q.close()));
  };
  return holding(close, async () => {
    await Promise.all(workers.map((w) => w.waitUntilReady()));
    return runVariant({ track, launch: (chainId) => queues[0]!.add('step', { chainId }, jobOptions) }, o, s, 'plain chain');
  });
}

/** DBOS Transact's numbers, with what its system tables cost per workflow. */
interface DbosRun extends VariantRun {
  /** pg_stat_database xact_commit delta over everything DBOS did after its migration, per workflow started. */
  xactsPerWorkflow: number;
  workflows: number;
}

/**
 * DBOS Transact on the same PostgreSQL (its system schema in the scratch database): a workflow of 9 no-op steps, each
 * step checkpointed before the next runs. It executes in this process (no queue hop), durable through PostgreSQL alone.
 */
async function benchDbos(o: Options, s: Services): Promise<DbosRun> {
  await DBOS.migrate(s.db.url);
  const before = await readXactCounters(s.db.admin, s.db.name);
  DBOS.setConfig({ name: 'bench-dbos', systemDatabaseUrl: s.db.url, systemDatabasePoolSize: POOL_MAX, logLevel: 'error' });
  const nineSteps = DBOS.registerWorkflow(
    async (n: number): Promise<number> => {
      for (let i = 0; i < STEPS; i++) await DBOS.runStep(async () => null, { name: `s${i}` });
      return n;
    },
    { name: 'nine_steps' },
  );
  await DBOS.launch();
  const track: { current: Tracker | undefined } = { current: undefined };
  let workflows = 0;
  const v: Variant = {
    track,
    async launch(id, i) {
      workflows++;
      const handle = await DBOS.startWorkflow(nineSteps, { workflowID: id })(i);
      void handle.getResult().then(
        () => track.current?.end(id),
        (err: unknown) => track.current?.end(id, String(err)),
      );
    },
  };
  const run = await holding(() => DBOS.shutdown(), () => runVariant(v, o, s, 'DBOS'));
  const after = await readXactCounters(s.db.admin, s.db.name);
  return { ...run, workflows, xactsPerWorkflow: (after.commits - before.commits) / workflows };
}

/**
 * Counts what one saga costs in PostgreSQL: statements through postgres-js' debug hook (per connection, to tell
 * transactions from autocommit statements), and pg_stat_database's xact_commit delta as the server-side check.
 */
async function account(o: Options, s: Services): Promise<Accounting> {
  const n = Math.min(o.sagas, ACCOUNTING_MAX);
  const before = await readXactCounters(s.db.admin, s.db.name);
  const inTx = new Set<number>();
  const all = { xacts: 0 };
  const window = { on: false, xacts: 0, statements: 0, locking: 0, start: 0 };
  const txOf = new Map<number, { statements: number; start: boolean }>();
  const debug = (connection: number, query: string): void => {
    const q = query.trimStart().toLowerCase();
    const begins = q.startsWith('begin');
    const ends = q.startsWith('commit') || q.startsWith('rollback');
    const isolated = !begins && !ends && !inTx.has(connection);
    if (begins) inTx.add(connection);
    if (ends) inTx.delete(connection);
    if (begins || isolated) all.xacts++;
    // postgres-js reads array types once per new connection: pool set-up, not the saga's cost.
    if (!window.on || q.includes('pg_catalog.pg_type')) return;
    window.statements++;
    if (begins || isolated) window.xacts++;
    if (/\bfor update\b/.test(q)) window.locking++;
    // start()'s statements, told apart so that the per-step figures are the steps' alone.
    const isStart = q.includes('insert into saga_instances');
    if (isolated) {
      if (isStart) window.start++;
      return;
    }
    const t = txOf.get(connection) ?? { statements: 0, start: false };
    t.statements++;
    t.start ||= isStart;
    txOf.set(connection, t);
    if (ends) {
      if (t.start) window.start += t.statements;
      txOf.delete(connection);
    }
  };
  const ids = await withEngine(o, s, { debug }, false, async (v) => {
    window.on = true;
    const batch = await batchOf(v, n, 'engine accounting pass');
    window.on = false;
    return batch.ids;
  });
  // Closed pool: every backend has exited and published its counters.
  const after = await readXactCounters(s.db.admin, s.db.name);
  const probe = postgres(s.db.url, { max: 1, onnotice: () => undefined });
  try {
    const [rows] = await probe<{ events: number; outbox: number; enqueued: number }[]>`
      select (select count(*) from saga_events where saga_id in ${probe(ids)})::int as events,
             (select count(*) from saga_outbox where saga_id in ${probe(ids)})::int as outbox,
             (select count(*) from saga_outbox where saga_id in ${probe(ids)} and dispatched_at is not null)::int as enqueued`;
    return {
      sagas: n,
      xactsPerSaga: window.xacts / n,
      statementsPerSaga: window.statements / n,
      lockingSelectsPerSaga: window.locking / n,
      startStatementsPerSaga: window.start / n,
      serverXactsPerSaga: (after.commits - before.commits - (all.xacts - window.xacts)) / n,
      serverRollbacks: after.rollbacks - before.rollbacks,
      eventsPerSaga: (rows?.events ?? 0) / n,
      outboxPerSaga: (rows?.outbox ?? 0) / n,
      enqueuedPerSaga: (rows?.enqueued ?? 0) / n,
    };
  } finally {
    await probe.end();
  }
}

/** Node CPU of the engine by library, sampled over a separate batch (the profiler's own cost stays out of the timed run). */
async function profileEngine(o: Options, s: Services): Promise<{ sagas: number; msByLibrary: Map<string, number> }> {
  const n = Math.min(o.sagas, ACCOUNTING_MAX);
  return withEngine(o, s, {}, false, async (v) => {
    // Fresh pool and workers: warm them so connection set-up is not charged to the steps.
    if (o.warmup > 0) await batchOf(v, o.warmup, 'engine profile warm-up');
    const stop = await startProfile([
      { name: 'saga-core', urlIncludes: '/packages/saga-core/' },
      { name: 'this benchmark', urlIncludes: '/bench/' },
    ]);
    await batchOf(v, n, 'engine profile pass');
    return { sagas: n, msByLibrary: await stop() };
  });
}

// One line describing what the numbers were measured on, read from the services rather than assumed.
async function machine(s: Services): Promise<string> {
  const redisVersion = /redis_version:(\S+)/.exec(await s.redis.info('server'))?.[1] ?? '?';
  const settings = await s.db.admin<{ version: string; fsync: string; sync: string }[]>`
    select current_setting('server_version') as version, current_setting('fsync') as fsync, current_setting('synchronous_commit') as sync`;
  const pg = settings[0];
  let bullmq = '?';
  try {
    bullmq = (JSON.parse(readFileSync(path.join(ROOT, 'node_modules/bullmq/package.json'), 'utf8')) as { version?: string }).version ?? '?';
  } catch {
    // Only a label in the report; an unusual install layout must not fail the run.
  }
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  return (
    `${os.availableParallelism()} cores (${cpu}), shared with other work; local Redis ${redisVersion} and PostgreSQL ${pg?.version.split(' ')[0] ?? '?'} on loopback, ` +
    `fsync ${pg?.fsync ?? '?'}, synchronous_commit ${pg?.sync ?? '?'}; Node ${process.version}, BullMQ ${bullmq}, postgres-js pool of ${POOL_MAX}`
  );
}

// The command that reproduces this run: flags only where they differ from the defaults.
function command(o: Options): string {
  const flags = [
    o.sagas !== DEFAULTS.sagas ? `--sagas ${o.sagas}` : '',
    o.inFlight !== DEFAULTS.inFlight ? `--in-flight ${o.inFlight}` : '',
    o.concurrency !== DEFAULTS.concurrency ? `--concurrency ${o.concurrency}` : '',
    o.warmup !== DEFAULTS.warmup ? `--warmup ${o.warmup}` : '',
    o.rounds !== DEFAULTS.rounds ? `--rounds ${o.rounds}` : '',
  ].filter((f) => f !== '');
  return flags.length === 0 ? 'npm run bench:engine' : `npm run bench:engine -- ${flags.join(' ')}`;
}

/** The section body: the table, how it was made, and where the cost comes from, every claim backed by a number of this run. */
// What the machine's state during the engine batches says about the numbers: CPU-bound, starved by other work, or waiting.
function cpuVerdict(cpu: CpuPerUnit): string {
  if (!(cpu.machineBusy >= 0.85)) return "so part of the engine's time is waiting (round trips, the pool), not CPU";
  if (cpu.ownShare >= 0.6) return 'so the engine is CPU-bound here and its batch p50 is mostly queueing behind the rest of the batch';
  return 'so the engine got only part of a saturated machine: this run understates its throughput, and its batch p50 is mostly queueing';
}

/** `a 31%, b 24%, …, other 5%`: the biggest libraries by share of busy time, the tail summed. */
function shares(msByLibrary: Map<string, number>, top = 6): string {
  const total = [...msByLibrary.values()].reduce((a, b) => a + b, 0);
  const sorted = [...msByLibrary.entries()].sort((a, b) => b[1] - a[1]);
  // The npm package "postgres" reads as the server; it is the postgres-js client.
  const label = (name: string): string => (name === 'postgres' ? 'postgres-js' : name);
  const head = sorted.slice(0, top).map(([name, ms]) => `${label(name)} ${fmt((100 * ms) / total, 0)}%`);
  const rest = sorted.slice(top).reduce((a, [, ms]) => a + ms, 0);
  return [...head, ...(rest > 0 ? [`others ${fmt((100 * rest) / total, 0)}%`] : [])].join(', ');
}

function render(o: Options, engine: EngineRun, dbos: DbosRun, plain: VariantRun, acct: Accounting, prof: { sagas: number; msByLibrary: Map<string, number> }, machineLine: string, load: number): string {
  const row = (name: string, r: VariantRun): string[] => [
    name,
    `${fmt(r.result.perSecond)} (${fmt(r.perSecondRange[0])}–${fmt(r.perSecondRange[1])})`,
    fmt(r.result.p50Ms),
    `${fmt(r.allAtOnce.perSecond)} (${fmt(r.allAtOnceRange[0])}–${fmt(r.allAtOnceRange[1])})`,
    fmt(r.aloneP50Ms),
    fmt(r.aloneP99Ms),
  ];
  const table = markdownTable(
    ['variant', `sagas/s, ${o.inFlight} in flight (range)`, `p50 ms, ${o.inFlight} in flight`, `sagas/s, all ${o.sagas} at once (range)`, 'one at a time p50 ms', 'one at a time p99 ms'],
    [
      row(`saga engine (${STEPS} no-op steps)`, engine),
      row(`DBOS Transact 5.3.0 (${STEPS} no-op steps)`, dbos),
      row(`plain BullMQ chain (${STEPS} no-op jobs)`, plain),
    ],
  );
  const e = engine;
  const target = (label: string, value: number, goal: number, better: 'higher' | 'lower'): string[] => {
    const met = better === 'higher' ? value >= goal : value <= goal;
    return [label, fmt(value, 2), `${better === 'higher' ? '≥' : '≤'} ${fmt(goal, 2)}`, met ? 'met' : `missed by ${fmt(Math.abs(value - goal), 2)}`];
  };
  const stepStatements = (acct.statementsPerSaga - acct.startStatementsPerSaga) / STEPS;
  const stepXacts = (acct.xactsPerSaga - 1) / STEPS;
  const targets = markdownTable(
    ['target', 'this run', 'goal', ''],
    [
      target(`throughput / DBOS (${o.inFlight} in flight)`, e.result.perSecond / dbos.result.perSecond, 1, 'higher'),
      target('single-flight p50 / DBOS', e.aloneP50Ms / dbos.aloneP50Ms, 1, 'lower'),
      target(`throughput / plain chain (${o.inFlight} in flight)`, e.result.perSecond / plain.result.perSecond, 0.3, 'higher'),
      target('transactions per step (start() apart)', stepXacts, 1, 'lower'),
      target('statements per step, BEGIN/COMMIT included (start() apart)', stepStatements, 5, 'lower'),
    ],
  );
  const cores = os.availableParallelism();
  const engineCpu = e.cpu.nodeMs + e.cpu.pgMs + e.cpu.redisMs;
  const notes = [
    `- PostgreSQL per saga (the engine, counted over ${acct.sagas} sagas through postgres-js' debug hook, per connection, so a statement outside BEGIN…COMMIT counts as its own transaction): ${fmt(acct.xactsPerSaga, 2)} committed transactions (pg_stat_database xact_commit delta, the server's own count: ${fmt(acct.serverXactsPerSaga, 2)}; ${acct.serverRollbacks} rollbacks), ${fmt(acct.statementsPerSaga, 2)} statements, ${fmt(acct.lockingSelectsPerSaga, 2)} of them \`SELECT … FOR UPDATE\`. Of these, start() is ${fmt(acct.startStatementsPerSaga, 2)} statement(s) in one transaction; each step is ${fmt(stepXacts, 2)} transactions and ${fmt(stepStatements, 2)} statements. Rows per saga: ${fmt(acct.eventsPerSaga)} \`saga_events\`, ${fmt(acct.outboxPerSaga)} \`saga_outbox\` (${fmt(acct.enqueuedPerSaga)} marked delivered).`,
    `- DBOS per workflow: ${fmt(dbos.xactsPerWorkflow, 2)} committed transactions (pg_stat_database delta over everything after its migration, ${dbos.workflows} workflows, its launch and its recovery checks included), i.e. ${fmt(dbos.xactsPerWorkflow / STEPS, 2)} per step. DBOS runs a workflow's steps in the process that started it, one function call after another; the engine runs a short step in the worker that committed the one before it when that worker consumes its queue (here: one queue hop per saga, start() → first step; the other eight run in place, each after its predecessor's one-statement commit); the chain hands every job to a queue (a Redis round trip and a worker pick-up per job).`,
    `- CPU per saga over the windowed rounds: engine ${fmt(e.cpu.nodeMs)} ms Node + ${fmt(e.cpu.pgMs)} ms PostgreSQL + ${fmt(e.cpu.redisMs)} ms Redis (${fmt(engineCpu / STEPS, 2)} ms per step); DBOS ${fmt(dbos.cpu.nodeMs)} ms Node + ${fmt(dbos.cpu.pgMs)} ms PostgreSQL; chain ${fmt(plain.cpu.nodeMs)} ms Node + ${fmt(plain.cpu.redisMs)} ms Redis (Redis' counter is server-wide). At that cost ${cores} cores cap the engine at ~${fmt((cores * 1000) / engineCpu, 0)} sagas/s; the machine was ${fmt(100 * e.cpu.machineBusy, 0)}% busy during the engine's windowed rounds, ${fmt(100 * e.cpu.ownShare, 0)}% of that this run's, ${cpuVerdict(e.cpu)}. The engine's Node CPU by library (profile of a separate ${prof.sagas}-saga batch, builtins charged to their caller): ${shares(prof.msByLibrary)}.`,
    `- One at a time (${ALONE} each, after the batches): the engine ${fmt(e.aloneP50Ms)} ms p50 (${fmt(e.aloneP50Ms / STEPS, 2)} ms per step), DBOS ${fmt(dbos.aloneP50Ms)} ms, the chain ${fmt(plain.aloneP50Ms)} ms. Cross-check of the engine's median windowed round: PostgreSQL's own finished_at − created_at gives p50 ${fmt(e.dbP50Ms)} ms / p99 ${fmt(e.dbP99Ms)} ms.`,
    `- Noise: the 2 cores are shared with other work (1-minute load average ${fmt(load, 2)} at the start of this run), so throughput and latency move between runs and rounds (see the ranges); the transaction, statement and row counts are exact.`,
  ];
  const date = new Date().toISOString().replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC');
  return [
    `Saga engine overhead: sagas of ${STEPS} no-op steps (each with a no-op compensation, never run) against DBOS Transact 5.3.0 (a workflow of ${STEPS} no-op steps, its system tables in the same PostgreSQL database) and a plain chain of ${STEPS} no-op BullMQ jobs (a queue and a Worker per step, each job adding the next). Each variant: a warm-up of ${o.warmup}, then ${o.rounds} rounds of ${o.sagas} units with ${o.inFlight} in flight (a new one starts as one ends; the table shows the median round), ${o.rounds} rounds of ${o.sagas} started at once, and ${ALONE} one at a time. Engine and chain Workers run at concurrency ${o.concurrency} per queue. Latency is start() (or the first add, or startWorkflow) → the end event, measured in-process with performance.now().`,
    '',
    `- Date: ${date}`,
    `- Machine: ${machineLine}`,
    `- Command: \`${command(o)}\` (i.e. \`npx tsx bench/engine.bench.ts\`; defaults N=${DEFAULTS.sagas}, ${DEFAULTS.inFlight} in flight, concurrency ${DEFAULTS.concurrency}, warm-up ${DEFAULTS.warmup}, ${DEFAULTS.rounds} rounds)`,
    '',
    table,
    '',
    targets,
    '',
    'Where the cost comes from:',
    '',
    ...notes,
  ].join('\n');
}

// Scratch database and prefix, the two variants, the counting and profiling passes, the report, and cleanup whatever happens.
async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (hasFlag(argv, '--help')) {
    console.log(usage());
    return;
  }
  const o = parseOptions(argv);
  const redisUrl = requireServiceEnv('REDIS_URL');
  const databaseUrl = requireServiceEnv('DATABASE_URL');
  const load = os.loadavg()[0] ?? 0;
  const db = await createScratchDatabase(databaseUrl, 'bench');
  const s: Services = { db, redisUrl, redis: new Redis(redisUrl, { maxRetriesPerRequest: 1 }), prefix: `bench${randomUUID().slice(0, 8)}` };
  let stopping = false;
  const cleanup = async (): Promise<void> => {
    s.redis.disconnect();
    const keys = await deleteRedisPrefix(redisUrl, s.prefix).catch((err: unknown) => {
      console.error(`could not delete Redis keys under ${s.prefix}:`, err);
      return 0;
    });
    await db.drop().catch((err: unknown) => console.error(`could not drop database ${db.name}:`, err));
    console.error(`cleaned up: database ${db.name} dropped, ${keys} Redis keys under ${s.prefix}: deleted`);
  };
  // Ctrl-C mid-run still removes the scratch database and keys.
  process.once('SIGINT', () => {
    if (stopping) return;
    stopping = true;
    console.error('interrupted: stopping workers, then cleaning up');
    void (async () => {
      // Innermost first (engine before its pool); a close that fails must not keep the scratch state around.
      for (const close of [...openResources].reverse()) await close().catch(() => undefined);
      await cleanup();
    })().finally(() => process.exit(130));
  });
  try {
    console.error(`bench:engine: N=${o.sagas}, in flight ${o.inFlight}, concurrency=${o.concurrency}, warm-up=${o.warmup}, database ${db.name}, prefix ${s.prefix}`);
    const plain = await benchPlain(o, s);
    console.error(`plain chain: ${fmt(plain.result.perSecond)} chains/s, p50 ${fmt(plain.result.p50Ms)} ms`);
    const engine = await benchEngine(o, s);
    console.error(`engine: ${fmt(engine.result.perSecond)} sagas/s, p50 ${fmt(engine.result.p50Ms)} ms`);
    const dbos = await benchDbos(o, s);
    console.error(`DBOS: ${fmt(dbos.result.perSecond)} workflows/s, p50 ${fmt(dbos.result.p50Ms)} ms`);
    if (engine.cpu.ownShare < 0.5) console.error(`warning: other work took ${fmt(100 * (1 - engine.cpu.ownShare), 0)}% of the busy CPU during the engine batches; numbers are pessimistic`);
    const acct = await account(o, s);
    const prof = await profileEngine(o, s);
    const section = render(o, engine, dbos, plain, acct, prof, await machine(s), load);
    console.log(section);
    if (o.write) {
      upsertSection(path.join(ROOT, 'BENCHMARKS.md'), '## Engine', section);
      console.error('wrote the "## Engine" section of BENCHMARKS.md');
    }
  } finally {
    if (!stopping) {
      stopping = true;
      await cleanup();
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
