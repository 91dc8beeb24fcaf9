// The fleet end to end: N documents of S KiB submitted at once through the producer API (a real producer process) and
// ingested by W worker processes, against its floor in the same run: the same files, each read, hashed, PUT to S3 and
// recorded with one INSERT, without any saga. What separates the two is the cost of the saga (nine steps, verification,
// three downstream stores and their bookkeeping). The apps run as they ship: their bundles, rebuilt at the start.
// Usage: npm run bench:fleet -- [--documents N] [--kib S] [--workers 1,2] [--concurrency C] [--steps] [--no-write]
//        (or BENCH_DOCUMENTS, BENCH_KIB in the environment; BENCH_WORKER_NODE_ARGS adds node flags to the workers)
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import postgres from 'postgres';
import { createTestEnv, type TestEnv } from '@ingest/ingest/testing';
import { spawnProcess, type TestProcess } from '@ingest/testkit';
import { hasFlag, intOption } from './lib/cli.ts';
import { fmt, markdownTable, upsertSection } from './lib/report.ts';
import { percentile } from './lib/stats.ts';
import { backendCpuDelta, backendCpuMs, pidCpuMs, redisCpuMs } from './lib/cpu.ts';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULTS = { documents: 200, kib: 256, workers: [1, 2] } as const;
// Submissions in flight at once: all N are submitted "at once", through a bounded number of sockets.
const SUBMIT_PARALLEL = 32;
// The floor's documents in flight at once: as many as the fleet's first step takes at once per worker (4 per queue).
const FLOOR_PARALLEL = 16;

interface Options {
  documents: number;
  kib: number;
  workers: number[];
  /** WORKER_CONCURRENCY for the workers; undefined: the worker's default. */
  concurrency: number | undefined;
  write: boolean;
}

/** One measured configuration. */
interface Run {
  label: string;
  workers: number;
  documents: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  wallMs: number;
  notCompleted: number;
  /** CPU ms per document, first submission → last saga end: the worker processes, the producer, PostgreSQL's backends. */
  workerCpuMs?: number;
  producerCpuMs?: number;
  postgresCpuMs?: number;
  /** The S3 server (s3rver, this checkout's infra/services.sh) and the whole Redis server, other clients included. */
  s3CpuMs?: number;
  redisCpuMs?: number;
  /** Committed PostgreSQL transactions per document (pg_stat_database), the bench's own polling included. */
  xactsPerDoc?: number;
}

function parseOptions(argv: readonly string[]): Options {
  const at = argv.indexOf('--workers');
  const workers = at >= 0 ? (argv[at + 1] ?? '').split(',').map((w) => Number(w)) : [...DEFAULTS.workers];
  if (workers.some((w) => !Number.isInteger(w) || w < 1 || w > 8)) throw new RangeError('--workers takes a comma-separated list of 1..8');
  return {
    documents: intOption(argv, '--documents', 'BENCH_DOCUMENTS', DEFAULTS.documents),
    kib: intOption(argv, '--kib', 'BENCH_KIB', DEFAULTS.kib),
    workers,
    concurrency: argv.includes('--concurrency') ? intOption(argv, '--concurrency', 'BENCH_CONCURRENCY', 0) : undefined,
    write: !hasFlag(argv, '--no-write'),
  };
}

/** Runs `fn` over `items` with at most `parallel` at once. */
async function pool<T, R>(items: readonly T[], parallel: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

/** Writes the N source files (random bytes) and returns their relative paths. */
async function writeSources(env: TestEnv, o: Options): Promise<string[]> {
  return pool(
    Array.from({ length: o.documents }, (_, i) => `fleet/doc-${String(i).padStart(5, '0')}.bin`),
    16,
    async (rel) => env.writeSource(rel, randomBytes(o.kib * 1024)),
  );
}

/** Starts an app as it ships: its esbuild bundle (apps/<app>/dist/main.js), with the image's source-map flag. */
function node(app: 'producer' | 'worker', env: Record<string, string>, name: string, extraArgs: string[] = []): Promise<TestProcess> {
  return spawnProcess(process.execPath, [...extraArgs, '--enable-source-maps', path.join(ROOT, `apps/${app}/dist/main.js`)], { cwd: ROOT, env, name, maxLines: 200 });
}

/** Bundles the apps from the current sources (a second or two), so the bench never measures a stale dist/. */
function buildApps(): void {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, stdio: 'inherit' });
}

/** Extra node flags for the worker processes (BENCH_WORKER_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p"): profiling. */
function workerNodeArgs(): string[] {
  return (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
}

/** The fleet: a producer, W workers, N submissions at once; latency is the saga's own created_at → finished_at. */
async function benchFleet(o: Options, workers: number): Promise<Run> {
  const env = await createTestEnv({ PORT: '0', METRICS_PORT: '0', ...(o.concurrency ? { WORKER_CONCURRENCY: String(o.concurrency) } : {}) });
  const procs: TestProcess[] = [];
  const sql = postgres(env.env.DATABASE_URL!, { max: 2, onnotice: () => undefined });
  let redisClient: Redis | undefined;
  try {
    const files = await writeSources(env, o);
    const producer = await node('producer', env.env, 'producer');
    procs.push(producer);
    const listening = await producer.waitForOutput(/"msg":"producer listening"/, 90_000);
    const { address } = JSON.parse(listening.line) as { address: string };
    for (let w = 0; w < workers; w++) {
      const worker = await node('worker', env.env, `worker-${w}`, ['--max-semi-space-size=8', ...workerNodeArgs()]);
      procs.push(worker);
      await worker.waitForOutput(/"msg":"worker ready"/, 90_000);
    }
    const dbName = new URL(env.env.DATABASE_URL!).pathname.slice(1);
    const redis = new Redis(env.env.REDIS_URL!, { lazyConnect: false });
    redisClient = redis;
    const s3Pid = s3ServerPid();
    const cpu = async () => ({
      s3: s3Pid === undefined ? Number.NaN : pidCpuMs(s3Pid),
      redis: await redisCpuMs(redis),
      workers: procs.slice(1).reduce((sum, p) => sum + pidCpuMs(p.pid), 0),
      producer: pidCpuMs(producer.pid),
      backends: await backendCpuMs(sql, dbName),
      xacts: Number((await sql<{ n: string }[]>`select xact_commit::text as n from pg_stat_database where datname = ${dbName}`)[0]?.n ?? Number.NaN),
    });
    const cpu0 = await cpu();
    const t0 = performance.now();
    const startedAt = Date.now();
    const ids = await pool(files, SUBMIT_PARALLEL, async (filePath, i) => {
      const res = await fetch(`${address}/v1/documents`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-internal-token': env.token },
        body: JSON.stringify({ filePath, metadata: { title: `fleet ${i}` }, content: `fleet benchmark document ${i}` }),
      });
      if (res.status !== 202) throw new Error(`POST /v1/documents answered ${res.status}: ${await res.text()}`);
      return ((await res.json()) as { sagaId: string }).sagaId;
    });
    const deadline = Date.now() + 120_000 + o.documents * 2000;
    for (;;) {
      const [row] = await sql<{ live: number }[]>`select count(*)::int as live from saga_instances where id in ${sql(ids)} and status in ('running', 'compensating')`;
      if ((row?.live ?? 1) === 0) break;
      if (Date.now() > deadline) throw new Error(`fleet with ${workers} worker(s): ${row?.live} of ${o.documents} sagas still live`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const wallMs = performance.now() - t0;
    const cpu1 = await cpu();
    const rows = await sql<{ status: string; ms: number; finished: number }[]>`
      select status, extract(epoch from finished_at - created_at)::float8 * 1000 as ms, extract(epoch from finished_at)::float8 * 1000 as finished
      from saga_instances where id in ${sql(ids)}`;
    if (hasFlag(process.argv, '--steps')) {
      // Where a saga's time goes: each step's mean run time and the mean gap before it (queueing, hops).
      const steps = await sql<{ name: string; run: number; gap: number }[]>`
        select name, avg(extract(epoch from finished_at - started_at) * 1000)::float8 as run,
          avg(extract(epoch from started_at - lag_finished) * 1000)::float8 as gap
        from (select s.*, lag(s.finished_at) over (partition by s.saga_id order by s.step_index) as lag_finished from saga_steps s where saga_id in ${sql(ids)}) x
        group by name, step_index order by step_index`;
      for (const st of steps) console.error(`  ${st.name.padEnd(24)} run ${fmt(st.run)} ms, gap before ${fmt(st.gap)} ms`);
    }
    const lastFinished = Math.max(...rows.map((r) => r.finished));
    const spanMs = lastFinished - startedAt;
    const latencies = rows.map((r) => r.ms);
    return {
      label: `fleet: producer + ${workers} worker process${workers === 1 ? '' : 'es'}`,
      workers,
      documents: o.documents,
      perSecond: o.documents / (spanMs / 1000),
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      wallMs: spanMs > 0 ? spanMs : wallMs,
      notCompleted: rows.filter((r) => r.status !== 'completed').length,
      workerCpuMs: (cpu1.workers - cpu0.workers) / o.documents,
      producerCpuMs: (cpu1.producer - cpu0.producer) / o.documents,
      postgresCpuMs: backendCpuDelta(cpu0.backends, cpu1.backends) / o.documents,
      xactsPerDoc: (cpu1.xacts - cpu0.xacts) / o.documents,
      s3CpuMs: (cpu1.s3 - cpu0.s3) / o.documents,
      redisCpuMs: (cpu1.redis - cpu0.redis) / o.documents,
    };
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => Promise.race([p.exited, new Promise((r) => setTimeout(r, 20_000))])));
    for (const p of procs) p.kill('SIGKILL');
    redisClient?.disconnect();
    await sql.end({ timeout: 5 });
    await env.close();
  }
}

/** The pid of this checkout's S3 server (infra/services.sh writes it), when it runs here; undefined otherwise. */
function s3ServerPid(): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(ROOT, '.data/services/s3.pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The floor: each file read, hashed, PUT to S3 as one object and recorded with one INSERT, FLOOR_PARALLEL at once. */
async function benchFloor(o: Options): Promise<Run> {
  const env = await createTestEnv();
  const e = env.env;
  const sql = postgres(e.DATABASE_URL!, { max: FLOOR_PARALLEL, onnotice: () => undefined });
  const s3 = new S3Client({
    endpoint: e.S3_ENDPOINT,
    region: e.S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: e.S3_ACCESS_KEY_ID!, secretAccessKey: e.S3_SECRET_ACCESS_KEY! },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  try {
    const files = await writeSources(env, o);
    await sql`create table floor_documents (id serial primary key, key text not null, bytes int not null, sha256 text not null)`;
    const prefix = `floor-${Date.now()}`;
    const t0 = performance.now();
    const latencies = await pool(files, FLOOR_PARALLEL, async (rel, i) => {
      const t = performance.now();
      const bytes = await readFile(path.join(env.sourceRoot, rel));
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const key = `${prefix}/${i}`;
      await s3.send(new PutObjectCommand({ Bucket: e.S3_BUCKET, Key: key, Body: bytes }));
      await sql`insert into floor_documents (key, bytes, sha256) values (${key}, ${bytes.length}, ${sha256})`;
      return performance.now() - t;
    });
    const wallMs = performance.now() - t0;
    return {
      label: `floor: read + PUT to S3 + one INSERT, ${FLOOR_PARALLEL} at once, no saga`,
      workers: 0,
      documents: o.documents,
      perSecond: o.documents / (wallMs / 1000),
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      wallMs,
      notCompleted: 0,
    };
  } finally {
    s3.destroy();
    await sql.end({ timeout: 5 });
    await env.close();
  }
}

function render(o: Options, runs: Run[], load: number): string {
  const floor = runs.find((r) => r.workers === 0);
  const table = markdownTable(
    ['variant', 'documents', 'documents/s', 'p50 ms', 'p99 ms', 'wall s', 'not completed', 'of the floor', 'CPU ms/doc: workers', 'producer', 'PostgreSQL', 'S3 server', 'Redis', 'PG transactions/doc'],
    runs.map((r) => [
      r.label,
      String(r.documents),
      fmt(r.perSecond),
      fmt(r.p50Ms),
      fmt(r.p99Ms),
      fmt(r.wallMs / 1000),
      String(r.notCompleted),
      floor ? `${fmt((100 * r.perSecond) / floor.perSecond, 0)}%` : '',
      r.workerCpuMs === undefined ? '' : fmt(r.workerCpuMs),
      r.producerCpuMs === undefined ? '' : fmt(r.producerCpuMs),
      r.postgresCpuMs === undefined ? '' : fmt(r.postgresCpuMs),
      r.s3CpuMs === undefined ? '' : fmt(r.s3CpuMs),
      r.redisCpuMs === undefined ? '' : fmt(r.redisCpuMs),
      r.xactsPerDoc === undefined ? '' : fmt(r.xactsPerDoc),
    ]),
  );
  const date = new Date().toISOString().replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC');
  return [
    `${o.documents} documents of ${o.kib} KiB (random bytes, each with a short inline text), submitted at once through the producer process' \`POST /v1/documents\` (${SUBMIT_PARALLEL} requests in flight) and ingested by real worker processes, run as they ship (the producer's and worker's esbuild bundles, rebuilt from the sources at the start, under \`node --enable-source-maps\`, the worker with \`--max-semi-space-size=8\` as in the image; ${o.concurrency ? `WORKER_CONCURRENCY=${o.concurrency}` : 'default settings'}, info logging); latency is each saga's \`finished_at − created_at\` as PostgreSQL recorded it, documents/s is N over first submission → last saga end. The floor reads, hashes and PUTs the same files to the same S3 server and INSERTs one row each, ${FLOOR_PARALLEL} at once, with no saga. CPU ms/doc is the CPU time (from /proc) each process used from first submission to last saga end, per document: the worker processes summed, the producer, the PostgreSQL backends of the bench's database, the S3 server (s3rver) and the whole Redis server; PG transactions/doc is pg_stat_database's xact_commit delta (an autocommit statement counts as one; the bench's own polling, 10 a second, included).`,
    '',
    `- Date: ${date}; ${os.availableParallelism()} cores shared with other work (1-minute load average ${fmt(load, 2)} at the start); local Redis, PostgreSQL and s3rver on loopback.`,
    `- Command: \`npm run bench:fleet\`${o.documents !== DEFAULTS.documents || o.kib !== DEFAULTS.kib || o.concurrency ? ` (-- --documents ${o.documents} --kib ${o.kib}${o.concurrency ? ` --concurrency ${o.concurrency}` : ''})` : ''}`,
    '',
    table,
  ].join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (hasFlag(argv, '--help')) {
    console.log('usage: npm run bench:fleet -- [--documents N] [--kib S] [--workers 1,2] [--concurrency C] [--steps] [--no-write]');
    return;
  }
  const o = parseOptions(argv);
  buildApps();
  const load = os.loadavg()[0] ?? 0;
  const runs: Run[] = [];
  runs.push(await benchFloor(o));
  console.error(`floor: ${fmt(runs[0]!.perSecond)} documents/s`);
  for (const w of o.workers) {
    const run = await benchFleet(o, w);
    console.error(`${run.label}: ${fmt(run.perSecond)} documents/s, p50 ${fmt(run.p50Ms)} ms, CPU ms/doc workers ${fmt(run.workerCpuMs ?? Number.NaN)} producer ${fmt(run.producerCpuMs ?? Number.NaN)} PostgreSQL ${fmt(run.postgresCpuMs ?? Number.NaN)} S3 ${fmt(run.s3CpuMs ?? Number.NaN)} Redis ${fmt(run.redisCpuMs ?? Number.NaN)}, ${fmt(run.xactsPerDoc ?? Number.NaN)} transactions/doc`);
    runs.push(run);
  }
  const section = render(o, runs, load);
  console.log(section);
  if (o.write) {
    upsertSection(path.join(ROOT, 'BENCHMARKS.md'), '## Fleet', section);
    console.error('wrote the "## Fleet" section of BENCHMARKS.md');
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
