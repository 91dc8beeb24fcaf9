// Streaming upload throughput and memory: our uploader (chunking, per-chunk SHA-256 + MD5, whole-file SHA-256, a manifest
// row per chunk) against @aws-sdk/lib-storage's Upload of the same file to the same server with the same part size and
// queue size, and sha256sum of the file (the hashing floor). Each upload runs in a child process whose peak RSS is read
// from /proc/self/status (VmHWM), reset after start-up so that the upload's own peak is seen apart from module loading.
// Usage: npm run bench:upload -- [--runs N] [--no-write] [--only plain|encoding]   (or BENCH_RUNS); needs `eval "$(bash infra/services.sh --env)"`.
// The encoding rows (bench/lib/encoding-rows.ts) compare plain chunks with compressed and encrypted ones in the same run.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import postgres from 'postgres';
// Only the S3 client module, not the package index: the lib-storage child must not load drizzle-orm (see NOTES).
import { createS3Client, readS3Settings } from '../packages/storage/src/s3-client.ts';
import { hasFlag, intOption, requireServiceEnv } from './lib/cli.ts';
import { fmt, markdownTable, sectionBody, upsertSection } from './lib/report.ts';
import { createScratchDatabase } from './lib/scratch.ts';
import { percentile } from './lib/stats.ts';
import { type EncodingVariant, runEncodingRows } from './lib/encoding-rows.ts';

const MiB = 1024 * 1024;
const SIZES = [64 * MiB, 1024 * MiB];
// The uploader's defaults, given to lib-storage as partSize and queueSize.
const PART_SIZE = 8 * MiB;
const QUEUE_SIZE = 4;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);
// V8's default young generation lets start-up garbage (drizzle-orm's ESM build) lift RSS by ~150 MB; this variant
// shows the same upload with the semi-space capped, as a memory-bounded worker would be deployed.
const SMALL_HEAP = ['--max-semi-space-size=8'];

type Method = 'ours' | 'lib-storage';

interface ChildInput {
  method: Method;
  file: string;
  key: string;
  databaseUrl: string;
  /** Encoding at rest for 'ours': zstd level (0 off) and whether the document is encrypted (under a random KEK). */
  encoding?: EncodingVariant;
}

interface ChildOutput {
  ms: number;
  /** User + system CPU of the child during the upload. */
  cpuMs: number;
  startupPeakKb: number;
  baselineKb: number;
  peakKb: number;
  sha256?: string;
}

interface Measurement {
  size: number;
  method: Method | 'sha256sum';
  flags: readonly string[];
  ms: number[];
  cpuMs: number[];
  peakKb: number[];
  addedKb: number[];
  startupPeakKb: number[];
}

function statusKb(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : Number.NaN;
}

/** Child side: one upload, timed; prints a ChildOutput line. Each method loads only what it needs. */
async function runChild(input: ChildInput): Promise<void> {
  const settings = readS3Settings();
  const client = createS3Client(settings);
  let upload: () => Promise<string | undefined>;
  let close = async (): Promise<void> => undefined;
  if (input.method === 'ours') {
    const { createChunkStore, createUploader } = await import('@ingest/storage');
    const sql = postgres(input.databaseUrl, { max: 2, onnotice: () => undefined });
    const chunkStore = createChunkStore({ client, bucket: settings.bucket });
    const { createLocalKeyProvider } = await import('@ingest/storage');
    const encoding = input.encoding
      ? {
          compressionLevel: input.encoding.compressionLevel,
          keyProvider: createLocalKeyProvider({ keys: new Map([['bench', randomBytes(32)]]), activeKeyId: 'bench' }),
        }
      : undefined;
    const uploader = createUploader({ sql, chunkStore, chunkSizeBytes: PART_SIZE, concurrency: QUEUE_SIZE, keyPrefix: 'bench/', ...(encoding ? { encoding } : {}) });
    upload = async () => {
      await uploader.createOperation({ operationId: input.key, owner: 'bench', sourcePath: input.file, ...(input.encoding?.encrypt ? { securityLevel: 'confidential' } : {}) });
      return (await uploader.upload(input.key)).sha256;
    };
    close = async () => {
      chunkStore.close();
      await sql.end();
    };
  } else {
    const { Upload } = await import('@aws-sdk/lib-storage');
    upload = async () => {
      const body = createReadStream(input.file, { highWaterMark: MiB });
      await new Upload({ client, params: { Bucket: settings.bucket, Key: `bench/${input.key}`, Body: body }, partSize: PART_SIZE, queueSize: QUEUE_SIZE, leavePartsOnError: false }).done();
      return undefined;
    };
  }
  try {
    const startupPeakKb = statusKb('VmHWM');
    // Linux: writing 5 to clear_refs resets VmHWM to the current RSS.
    writeFileSync('/proc/self/clear_refs', '5');
    const baselineKb = statusKb('VmRSS');
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const sha256 = await upload();
    const cpu = process.cpuUsage(cpuBefore);
    const ms = performance.now() - started;
    const out: ChildOutput = { ms, cpuMs: (cpu.user + cpu.system) / 1000, startupPeakKb, baselineKb, peakKb: statusKb('VmHWM'), ...(sha256 ? { sha256 } : {}) };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    await close();
    client.destroy();
  }
}

/** Parent side: runs one child and returns its output. */
async function spawnChild(input: ChildInput, flags: readonly string[]): Promise<ChildOutput> {
  const child = spawn(process.execPath, [...flags, '--import', 'tsx', SELF, '--child', JSON.stringify(input)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${input.method} upload child exited with ${code}: ${stdout}`);
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as ChildOutput;
}

async function writeRandomFile(file: string, size: number): Promise<void> {
  const out = createWriteStream(file);
  for (let done = 0; done < size; done += 4 * MiB) {
    if (!out.write(randomBytes(Math.min(4 * MiB, size - done)))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

function sha256sum(file: string): { ms: number; hex: string } {
  const started = performance.now();
  const hex = execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0]!;
  return { ms: performance.now() - started, hex };
}

function cpuModel(): string {
  return os.cpus()[0]?.model.replace(/\s+/g, ' ').trim() ?? 'unknown CPU';
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const childAt = argv.indexOf('--child');
  if (childAt >= 0) return runChild(JSON.parse(argv[childAt + 1]!) as ChildInput);

  const runs = intOption(argv, '--runs', 'BENCH_RUNS', 3);
  const write = !hasFlag(argv, '--no-write');
  const onlyAt = argv.indexOf('--only');
  const only = onlyAt >= 0 ? argv[onlyAt + 1] : undefined;
  if (only !== undefined && only !== 'plain' && only !== 'encoding') throw new Error('--only takes plain or encoding');
  if (only !== 'plain') {
    await runEncodingRows({ runs, write, root: ROOT, spawn: (input) => spawnChild(input, []), sha256sum: (file) => sha256sum(file).hex, writeRandomFile });
    if (only === 'encoding') return;
  }
  const databaseUrl = requireServiceEnv('DATABASE_URL');
  requireServiceEnv('S3_ENDPOINT');
  const { createChunkStore, createUploader, migrateStorage } = await import('@ingest/storage');
  const settings = readS3Settings();
  const client = createS3Client(settings);
  const scratch = await createScratchDatabase(databaseUrl, 'bench_upload');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'upload-bench-'));
  const measurements: Measurement[] = [];
  const loadAtStart = os.loadavg()[0] ?? 0;
  const sql = postgres(scratch.url, { max: 3, onnotice: () => undefined });
  const chunkStore = createChunkStore({ client, bucket: settings.bucket });
  try {
    await migrateStorage(sql);
    const cleanup = createUploader({ sql, chunkStore, keyPrefix: 'bench/' });
    for (const size of SIZES) {
      const file = path.join(dir, `random-${size / MiB}MiB.bin`);
      process.stderr.write(`generating ${size / MiB} MiB of random bytes\n`);
      await writeRandomFile(file, size);
      const floor = sha256sum(file).hex;
      const m = (method: Measurement['method'], flags: readonly string[]): Measurement => {
        let found = measurements.find((x) => x.size === size && x.method === method && x.flags.join(' ') === flags.join(' '));
        if (!found) measurements.push((found = { size, method, flags, ms: [], cpuMs: [], peakKb: [], addedKb: [], startupPeakKb: [] }));
        return found;
      };
      for (let run = 0; run < runs; run++) {
        // Interleaved, so that drift in the machine's load hits every method alike.
        m('sha256sum', []).ms.push(sha256sum(file).ms);
        for (const flags of [[], SMALL_HEAP]) {
          for (const method of ['ours', 'lib-storage'] as const) {
            const key = `${method === 'ours' ? 'op' : 'lib'}-${randomBytes(4).toString('hex')}`;
            const out = await spawnChild({ method, file, key, databaseUrl: scratch.url }, flags);
            if (out.sha256 && out.sha256 !== floor) throw new Error(`our upload hashed ${out.sha256}, sha256sum says ${floor}`);
            const r = m(method, flags);
            r.ms.push(out.ms);
            r.cpuMs.push(out.cpuMs);
            r.peakKb.push(out.peakKb);
            r.addedKb.push(out.peakKb - out.baselineKb);
            r.startupPeakKb.push(out.startupPeakKb);
            if (method === 'ours') await cleanup.deleteOperationChunks(key);
            else await client.send(new DeleteObjectCommand({ Bucket: settings.bucket, Key: `bench/${key}` }));
            process.stderr.write(`${size / MiB} MiB ${method}${flags.length ? ` ${flags.join(' ')}` : ''}: ${fmt(size / 1e6 / (out.ms / 1000))} MB/s, peak ${fmt(out.peakKb / 1024, 0)} MiB\n`);
          }
        }
      }
      await rm(file);
    }
  } finally {
    chunkStore.close();
    await sql.end();
    client.destroy();
    await scratch.drop();
    await rm(dir, { recursive: true, force: true });
  }

  const median = (xs: number[]) => percentile(xs, 50);
  const mbps = (x: Measurement) => x.size / 1e6 / (median(x.ms) / 1000);
  const find = (size: number, method: Measurement['method'], flags: readonly string[] = []) =>
    measurements.find((x) => x.size === size && x.method === method && x.flags.join(' ') === flags.join(' '))!;
  const rows = measurements.map((x) => {
    const lib = find(x.size, 'lib-storage', x.flags);
    const isUpload = x.method !== 'sha256sum';
    return [
      `${x.size / MiB} MiB`,
      x.method,
      x.flags.join(' ') || 'default',
      fmt(mbps(x)),
      x.method === 'ours' ? `${fmt(mbps(x) / mbps(lib), 2)}×` : '',
      isUpload ? fmt(median(x.cpuMs) / (x.size / MiB) * 1024 / 1000, 2) : '',
      isUpload ? fmt(median(x.startupPeakKb) / 1024, 0) : '',
      isUpload ? fmt(median(x.peakKb) / 1024, 0) : '',
      isUpload ? fmt(median(x.addedKb) / 1024, 0) : '',
    ];
  });
  const table = markdownTable(['file', 'method', 'node flags', 'MB/s', 'ours / lib-storage', 'client CPU s/GiB', 'start-up peak MiB', 'upload peak RSS MiB', 'added by upload MiB'], rows, 3);
  process.stdout.write(`${table}\n`);

  const [small, large] = SIZES as [number, number];
  const ratioLarge = mbps(find(large, 'ours')) / mbps(find(large, 'lib-storage'));
  const ratioSmall = mbps(find(small, 'ours')) / mbps(find(small, 'lib-storage'));
  const peak = (size: number, flags: readonly string[] = []) => median(find(size, 'ours', flags).peakKb) / 1024;
  const targets = [
    `throughput ≥ 0.9× lib-storage: ${fmt(ratioSmall, 2)}× at 64 MiB, ${fmt(ratioLarge, 2)}× at 1 GiB — ${Math.min(ratioSmall, ratioLarge) >= 0.9 ? 'met' : 'missed'}`,
    `peak RSS at 1 GiB ≤ 1.25× that at 64 MiB: ${fmt(peak(large), 0)} vs ${fmt(peak(small), 0)} MiB (${fmt(peak(large) / peak(small), 2)}×) — ${peak(large) <= 1.25 * peak(small) ? 'met' : 'missed'}`,
    `peak RSS at 1 GiB under 200 MB: ${fmt((peak(large) * MiB) / 1e6, 0)} MB with default flags, ${fmt((peak(large, SMALL_HEAP) * MiB) / 1e6, 0)} MB with ${SMALL_HEAP.join(' ')} — ` +
      `${(peak(large) * MiB) / 1e6 < 200 ? 'met' : (peak(large, SMALL_HEAP) * MiB) / 1e6 < 200 ? `missed with default flags, met with ${SMALL_HEAP.join(' ')}` : 'missed'}`,
  ];
  process.stdout.write(`${targets.map((t) => `- ${t}`).join('\n')}\n`);
  if (!write) return;
  const nodeVersion = process.version;
  const body = sectionBody({
    intro: `Our uploader (8 MiB chunks, 4 in flight, per-chunk SHA-256 and MD5, whole-file SHA-256, a PostgreSQL manifest row per chunk) against \`@aws-sdk/lib-storage\` \`Upload\` of the same file to the same server with partSize 8 MiB and queueSize 4 (multipart, no hashing of its own beyond SigV4), and \`sha256sum\` of the file (the single-core hashing floor). Files of random bytes, written once to a temp dir (so read from the page cache) and deleted after. Each upload runs in its own child process (\`node --import tsx\`); the child resets its VmHWM after start-up (write 5 to /proc/self/clear_refs), so "upload peak RSS" is the process's peak while uploading and "added" is that minus its RSS when the upload began. Medians of ${runs} runs, interleaved.`,
    machine: `${os.cpus().length} cores (${cpuModel()}), shared with other work (1-minute load ${fmt(loadAtStart, 2)} at the start); ${fmt(os.totalmem() / 2 ** 30, 0)} GiB RAM; s3rver (npm) and PostgreSQL 15 on loopback, both on the same 2 cores; Node ${nodeVersion}`,
    command: '`npm run bench:upload` (i.e. `npx tsx bench/upload.bench.ts`)',
    table,
    targets,
    notes: NOTES,
  });
  upsertSection(path.join(ROOT, 'BENCHMARKS.md'), '## Upload', body);
  process.stderr.write('BENCHMARKS.md: ## Upload updated\n');
}

// Written from the measurements this benchmark produces (and the investigation behind them); kept with the code so that
// a re-run keeps them. They refer to the table's columns rather than to figures that move from run to run.
const NOTES = [
  "Start-up, not the upload, decides the absolute RSS. Our child's start-up peak is ~2.5–3× lib-storage's because it loads drizzle-orm's ESM build: in a bare Node 24, `import('drizzle-orm/postgres-js')` allocates ~160 MB of short-lived heap (RSS +256 MB), and the same files with a package.json trimmed to one export allocate ~4 MB (RSS +26 MB). The ~450 modules are resolved against its 178 KB package.json (447 exports), and V8's default young generation grows to absorb the garbage. `--max-semi-space-size=8` keeps that growth down (the second set of rows). tsx, which compiles at run time, is another ~35 MB of every child.",
  'The upload itself adds the same few tens of MiB at 64 MiB and at 1 GiB: its 4 × 8 MiB buffers, recycled, and little else ("added by upload"). That is why the 1 GiB / 64 MiB ratio target holds. lib-storage adds about three times as much (part buffers plus the read stream\'s copies).',
  'Closing "under 200 MB" with default flags is a deployment choice, not an upload change: run the worker with NODE_OPTIONS=--max-semi-space-size=8 (the margin is thin), or from compiled JavaScript rather than tsx, or with drizzle-orm loaded from its CommonJS build (RSS +27 MB). The package itself adds nothing that grows with the file.',
  'Throughput: against s3rver lib-storage pays twice on the server, because its CompleteMultipartUpload reads every part back and writes the object again. Our single-object PUTs are written once. The wall-clock ratio therefore flatters us on this server. The client CPU column is the server-independent comparison. Per chunk we compute SHA-256 and MD5 and feed the whole-file SHA-256, all on the event-loop thread, plus a PostgreSQL transaction (the SigV4 payload hash reuses our SHA-256). lib-storage hashes each part once for SigV4, but copies every part out of the read stream into a buffer. The two come out within about 15% of each other per GiB (ours a little more at 64 MiB, a little less at 1 GiB). So on a server where completion is cheap (AWS S3) expect throughput about on par, not the ratio measured here. If hashing ever bound, the next step is moving the per-chunk hashes to a worker thread.',
  'lib-storage makes one object per file; we make one object per chunk, which is what makes resume, per-chunk verification and orphan reaping work on every S3-compatible server (DESIGN §4).',
];

await main();
