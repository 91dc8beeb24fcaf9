// The worker's memory and start-up, as it ships: the compiled worker (`node apps/worker/dist/main.js`, no flags)
// against the development worker (tsx on the sources, with and without --max-semi-space-size=8) in the same run.
// Start-up RSS and time to "worker ready", then the worker's peak RSS (VmHWM, reset before each ingestion) while it
// ingests files of each size through the saga. Needs `npm run build` and the local services (source
// scripts/setup.sh). Usage: npm run bench:worker-memory [-- --sizes-mib 64,1024,8192 --dev-max-mib 1024]
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import pino from 'pino';
import { createIngestRuntime, loadConfig, migrateIngestSchema, type IngestRuntime } from '@ingest/ingest';
import { intOption, requireServiceEnv } from './lib/cli.ts';
import { fmt, markdownTable, upsertSection } from './lib/report.ts';
import { createScratchDatabase, deleteRedisPrefix } from './lib/scratch.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;

interface Variant {
  name: string;
  args: string[];
}

const VARIANTS: Variant[] = [
  { name: 'compiled, `node dist/main.js`', args: [path.join(ROOT, 'apps/worker/dist/main.js')] },
  { name: 'compiled, --max-semi-space-size=8', args: ['--max-semi-space-size=8', path.join(ROOT, 'apps/worker/dist/main.js')] },
  { name: 'tsx on the sources', args: ['--import', 'tsx', path.join(ROOT, 'apps/worker/src/main.ts')] },
  { name: 'tsx, --max-semi-space-size=8', args: ['--max-semi-space-size=8', '--import', 'tsx', path.join(ROOT, 'apps/worker/src/main.ts')] },
];

function sizesOption(argv: readonly string[]): number[] {
  const i = argv.indexOf('--sizes-mib');
  const raw = i >= 0 ? argv[i + 1] : (process.env.BENCH_SIZES_MIB ?? '64,1024,8192');
  const sizes = (raw ?? '').split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--sizes-mib must be a comma-separated list of MiB, got "${raw}"`);
  return sizes;
}

async function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1]);
  if (!Number.isFinite(kb)) throw new Error(`no ${field} for pid ${pid}`);
  return kb * 1024;
}

/** Writes `mib` MiB of random-looking bytes fast: one random MiB written over and over (content does not matter here). */
async function writeSource(file: string, mib: number): Promise<void> {
  const block = randomBytes(MiB);
  const fh = await open(file, 'w');
  try {
    for (let i = 0; i < mib; i++) {
      block.writeUInt32LE(i, 0);
      await fh.write(block);
    }
  } finally {
    await fh.close();
  }
}

function startWorker(variant: Variant, env: Record<string, string>): Promise<{ child: ChildProcess; readyMs: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, variant.args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('utf8');
      if (buffered.includes('"msg":"worker ready"')) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve({ child, readyMs: performance.now() - started });
      }
      buffered = buffered.slice(-4096);
    };
    child.stdout?.on('data', onData);
    child.stderr?.resume();
    child.once('exit', (code) => reject(new Error(`worker (${variant.name}) exited with ${code} before it was ready`)));
  });
}

async function waitForEnd(rt: IngestRuntime, sagaId: string): Promise<string> {
  for (;;) {
    const s = await rt.status(sagaId);
    if (s.status !== 'running' && s.status !== 'compensating') return s.status;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function emptyPrefix(s3: S3Client, bucket: string, prefix: string): Promise<void> {
  for (;;) {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1000 }));
    const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
    if (keys.length === 0) return;
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const sizes = sizesOption(argv);
  const devMax = intOption(argv, '--dev-max-mib', 'BENCH_DEV_MAX_MIB', 1024);
  if (!existsSync(VARIANTS[0]!.args[0]!)) throw new Error('apps/worker/dist/main.js is missing: run `npm run build` first');
  const db = await createScratchDatabase(requireServiceEnv('DATABASE_URL'), 'bench_worker_memory');
  const sourceRoot = await mkdtemp(path.join(tmpdir(), 'bench-worker-memory-'));
  const prefix = `bwm${randomBytes(3).toString('hex')}`;
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    DATABASE_URL: db.url,
    SOURCE_ROOT: sourceRoot,
    QUEUE_PREFIX: prefix,
    METRICS_PORT: '0',
    LOG_LEVEL: 'info',
    WORKER_CONCURRENCY: '1',
    SAGA_TIMEOUT_SECONDS: '7200',
    S3_CALL_TIMEOUT_MS: '120000',
  };
  const config = loadConfig(env);
  await migrateIngestSchema(config);
  const rt = await createIngestRuntime(config, { logger: pino({ level: 'silent' }), role: 'producer' });
  const s3 = new S3Client({
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    credentials: { accessKeyId: config.S3_ACCESS_KEY_ID!, secretAccessKey: config.S3_SECRET_ACCESS_KEY! },
  });
  const rows: string[][] = [];
  try {
    for (const variant of VARIANTS) {
      const { child, readyMs } = await startWorker(variant, env);
      const pid = child.pid!;
      const startRss = await statusField(pid, 'VmRSS');
      const peaks: string[] = [];
      for (const mib of sizes) {
        if (!variant.args.some((a) => a.endsWith('dist/main.js')) && mib > devMax) {
          peaks.push('not run');
          continue;
        }
        const name = `src-${mib}.bin`;
        await writeSource(path.join(sourceRoot, name), mib);
        // Resets VmHWM to the current RSS, so the peak below is this ingestion's own.
        await writeFile(`/proc/${pid}/clear_refs`, '5');
        const started = performance.now();
        const { sagaId } = await rt.submit({ filePath: name, metadata: { title: name } }, { requestedBy: 'bench' });
        const status = await waitForEnd(rt, sagaId);
        const seconds = (performance.now() - started) / 1000;
        const peak = await statusField(pid, 'VmHWM');
        if (status !== 'completed') throw new Error(`${mib} MiB ingestion ended ${status}`);
        peaks.push(`${fmt(peak / 1e6, 0)} MB (${fmt(mib / seconds, 0)} MiB/s)`);
        process.stderr.write(`${variant.name}: ${mib} MiB peak ${fmt(peak / 1e6, 0)} MB in ${fmt(seconds)} s\n`);
        await rm(path.join(sourceRoot, name));
        await emptyPrefix(s3, config.S3_BUCKET, 'chunks/');
      }
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rows.push([variant.name, fmt(readyMs / 1000, 2), fmt(startRss / 1e6, 0), ...peaks]);
    }
  } finally {
    await rt.close();
    s3.destroy();
    await deleteRedisPrefix(config.REDIS_URL, prefix);
    await db.drop();
    await rm(sourceRoot, { recursive: true, force: true });
  }
  const table = markdownTable(['worker', 'time to ready (s)', 'start-up RSS (MB)', ...sizes.map((m) => `peak RSS, ${m >= 1024 ? `${m / 1024} GiB` : `${m} MiB`}`)], rows);
  process.stdout.write(`${table}\n`);
  const body = [
    `One worker process (WORKER_CONCURRENCY=1, chunks of ${config.CHUNK_SIZE_BYTES / MiB} MiB, ${config.UPLOAD_CONCURRENCY} in flight) ingesting one file at a time through the whole saga on the local services. "time to ready": spawn to the "worker ready" line (configuration, connections, migrations, queues). "start-up RSS": VmRSS at that moment. "peak RSS": VmHWM over the ingestion, reset (\`/proc/<pid>/clear_refs\`) just before it, with the ingestion's throughput. The development (tsx) variants run only sizes up to ${devMax} MiB.`,
    '',
    `Run ${new Date().toISOString()} (\`npm run bench:worker-memory\`), Node ${process.version}:`,
    '',
    table,
  ].join('\n');
  upsertSection(path.join(ROOT, 'BENCHMARKS.md'), '## Worker memory and start-up', body);
  process.stderr.write('BENCHMARKS.md: ## Worker memory and start-up updated\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:worker-memory: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
