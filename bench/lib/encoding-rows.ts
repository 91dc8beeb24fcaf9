// The encoding-at-rest rows of `npm run bench:upload`: plain chunks against adaptive zstd, AES-256-GCM and both, in the
// same run, on random bytes (the adaptive path's overhead) and on realistic text (ratio and throughput), each upload
// in its own child process (peak RSS) at 1 GiB by default. Text: TypeScript's own lib/*.d.ts (the `typescript` npm
// package, a devDependency): English doc comments and declarations, concatenated and cycled to the file size.
import { randomBytes } from 'node:crypto';
import { createWriteStream, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { fmt, markdownTable, sectionBody, upsertSection } from './report.ts';
import { createScratchDatabase } from './scratch.ts';
import { requireServiceEnv } from './cli.ts';
import { percentile } from './stats.ts';

const MiB = 1024 * 1024;

/** How one upload encodes its chunks. */
export interface EncodingVariant {
  compressionLevel: number;
  encrypt: boolean;
}

interface ChildOut {
  ms: number;
  cpuMs: number;
  peakKb: number;
  baselineKb: number;
  sha256?: string;
}

/** What the rows need from the benchmark around them. */
export interface EncodingRowsOptions {
  runs: number;
  write: boolean;
  root: string;
  spawn(input: { method: 'ours'; file: string; key: string; databaseUrl: string; encoding: EncodingVariant }): Promise<ChildOut>;
  sha256sum(file: string): string;
  writeRandomFile(file: string, size: number): Promise<void>;
}

type Content = 'random' | 'text';
const VARIANTS: Record<Content, { name: string; v: EncodingVariant }[]> = {
  random: [
    { name: 'plain', v: { compressionLevel: 0, encrypt: false } },
    { name: 'adaptive zstd-3', v: { compressionLevel: 3, encrypt: false } },
    { name: 'AES-256-GCM', v: { compressionLevel: 0, encrypt: true } },
    { name: 'zstd-3 + AES-256-GCM', v: { compressionLevel: 3, encrypt: true } },
  ],
  text: [
    { name: 'plain', v: { compressionLevel: 0, encrypt: false } },
    { name: 'adaptive zstd-3', v: { compressionLevel: 3, encrypt: false } },
    { name: 'zstd-3 + AES-256-GCM', v: { compressionLevel: 3, encrypt: true } },
  ],
};

interface Row {
  content: Content;
  name: string;
  ms: number[];
  cpuMs: number[];
  peakKb: number[];
  addedKb: number[];
  storedBytes: number[];
}

async function writeTextFile(root: string, file: string, size: number): Promise<void> {
  const dir = path.join(root, 'node_modules/typescript/lib');
  const corpus = Buffer.concat(readdirSync(dir).filter((f) => f.endsWith('.d.ts')).sort().map((f) => readFileSync(path.join(dir, f))));
  const out = createWriteStream(file);
  for (let done = 0; done < size; ) {
    const piece = corpus.subarray(0, Math.min(corpus.length, size - done));
    if (!out.write(piece)) await once(out, 'drain');
    done += piece.length;
  }
  out.end();
  await once(out, 'finish');
}

/** Runs every variant `runs` times on each content, interleaved; prints the table and writes its BENCHMARKS.md section. */
export async function runEncodingRows(o: EncodingRowsOptions): Promise<void> {
  const size = Number(process.env.BENCH_ENCODING_MIB ?? 1024) * MiB;
  const databaseUrl = requireServiceEnv('DATABASE_URL');
  const scratch = await createScratchDatabase(databaseUrl, 'bench_encoding');
  const sql = postgres(scratch.url, { max: 2, onnotice: () => undefined });
  const { createChunkStore, createS3Client, createUploader, migrateStorage, readS3Settings } = await import('@ingest/storage');
  const settings = readS3Settings();
  const client = createS3Client(settings);
  const chunkStore = createChunkStore({ client, bucket: settings.bucket });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'encoding-bench-'));
  const rows: Row[] = [];
  const loadAtStart = os.loadavg()[0] ?? 0;
  try {
    await migrateStorage(sql);
    const cleanup = createUploader({ sql, chunkStore, keyPrefix: 'bench/' });
    for (const content of ['random', 'text'] as const) {
      const file = path.join(dir, `${content}.bin`);
      process.stderr.write(`generating ${size / MiB} MiB of ${content}\n`);
      if (content === 'random') await o.writeRandomFile(file, size);
      else await writeTextFile(o.root, file, size);
      const floor = o.sha256sum(file);
      for (let run = 0; run < o.runs; run++) {
        for (const { name, v } of VARIANTS[content]) {
          const key = `enc-${randomBytes(4).toString('hex')}`;
          const out = await o.spawn({ method: 'ours', file, key, databaseUrl: scratch.url, encoding: v });
          if (out.sha256 !== floor) throw new Error(`${content} ${name}: upload hashed ${String(out.sha256)}, sha256sum says ${floor}`);
          const [stored] = await sql<{ n: string }[]>`select coalesce(sum(coalesce(stored_size, size)), 0)::text as n from upload_chunks where operation_id = ${key}`;
          let row = rows.find((r) => r.content === content && r.name === name);
          if (!row) rows.push((row = { content, name, ms: [], cpuMs: [], peakKb: [], addedKb: [], storedBytes: [] }));
          row.ms.push(out.ms);
          row.cpuMs.push(out.cpuMs);
          row.peakKb.push(out.peakKb);
          row.addedKb.push(out.peakKb - out.baselineKb);
          row.storedBytes.push(Number(stored?.n ?? 0));
          await cleanup.deleteOperationChunks(key);
          process.stderr.write(`${content} ${name}: ${fmt(size / 1e6 / (out.ms / 1000))} MB/s, peak ${fmt(out.peakKb / 1024, 0)} MiB\n`);
        }
      }
      await rm(file);
    }
  } finally {
    chunkStore.close();
    client.destroy();
    await sql.end();
    await scratch.drop();
    await rm(dir, { recursive: true, force: true });
  }

  const median = (xs: number[]) => percentile(xs, 50);
  const mbps = (r: Row) => size / 1e6 / (median(r.ms) / 1000);
  const plain = (content: Content) => rows.find((r) => r.content === content && r.name === 'plain')!;
  const table = markdownTable(
    ['content', 'chunks', 'MB/s', 'time vs plain', 'source / stored', 'client CPU s/GiB', 'upload peak RSS MiB', 'added by upload MiB'],
    rows.map((r) => [
      r.content === 'random' ? `${size / MiB} MiB random` : `${size / MiB} MiB text`,
      r.name,
      fmt(mbps(r)),
      r.name === 'plain' ? '' : `${median(r.ms) >= median(plain(r.content).ms) ? '+' : ''}${fmt((median(r.ms) / median(plain(r.content).ms) - 1) * 100)}%`,
      `${fmt(size / median(r.storedBytes), 2)}×`,
      fmt((median(r.cpuMs) / 1000 / (size / MiB)) * 1024, 2),
      fmt(median(r.peakKb) / 1024, 0),
      fmt(median(r.addedKb) / 1024, 0),
    ]),
    2,
  );
  process.stdout.write(`${table}\n`);
  const adaptive = rows.find((r) => r.content === 'random' && r.name === 'adaptive zstd-3')!;
  const overhead = (median(adaptive.ms) / median(plain('random').ms) - 1) * 100;
  const cpuOverhead = (median(adaptive.cpuMs) / median(plain('random').cpuMs) - 1) * 100;
  const targets = [
    `adaptive zstd on random bytes at most 5% slower than plain chunks: wall clock ${fmt(overhead)}%, client CPU ${fmt(cpuOverhead)}% — ${overhead <= 5 && cpuOverhead <= 5 ? 'met' : 'missed'}`,
  ];
  process.stdout.write(`${targets.map((t) => `- ${t}`).join('\n')}\n`);
  if (!o.write) return;
  const body = sectionBody({
    intro: `Our uploader (8 MiB chunks, 4 in flight) with encoding at rest against itself with plain chunks, in the same run: random bytes (the adaptive path's overhead: each chunk is sampled, found incompressible and stored raw) and realistic text (TypeScript's own \`lib/*.d.ts\` from the \`typescript\` npm package, ${fmt(3.7, 1)} MB of English doc comments and declarations concatenated and cycled, longer than zstd-3's 2 MiB window so the cycling does not flatter the ratio). Encryption: AES-256-GCM under a per-document data key (synthetic nonce, stored SHA-256 and MD5 of the ciphertext). Each upload runs in its own child process; "upload peak RSS" and "added" as in the Upload section. "source / stored" is source bytes over the bytes the bucket holds. Medians of ${o.runs} runs, interleaved.`,
    machine: `${os.cpus().length} cores, shared with other work (1-minute load ${fmt(loadAtStart, 2)} at the start); s3rver and PostgreSQL on loopback on the same cores; Node ${process.version}`,
    command: '`npm run bench:upload -- --only encoding` (the whole `npm run bench:upload` runs these rows first)',
    table,
    targets,
    notes: NOTES,
  });
  upsertSection(path.join(o.root, 'BENCHMARKS.md'), '## Upload: encoding at rest', body);
  process.stderr.write('BENCHMARKS.md: ## Upload: encoding at rest updated\n');
}

const NOTES = [
  'Read the CPU column first. On a 2-core machine shared with other work at a load of 10–25 (s3rver and PostgreSQL on the same cores) the wall clock of one upload varies by ±25% from run to run (plain random ranged 17.6–21.9 MB/s), more than the effects measured; CPU seconds per GiB are stable: adaptive zstd on random bytes costs +0.6% CPU over plain.',
  'Where the CPU goes: zstd runs on the libuv thread pool (zlib\'s async API), so chunks in flight compress in parallel and off the event loop. Encryption adds, per GiB and measured alone in one process on this CPU: AES-256-GCM 0.8 s, the ciphertext\'s SHA-256 0.9 s and its MD5 1.9 s (the MD5 is the Content-MD5 of the PUT and what servers that report only an MD5 ETag, s3rver among them, are checked against). In the runs above, under load, encryption added 7.8 s/GiB against these 3.6 s measured alone. With 2 cores and the server on them there is no idle core for worker threads to use, so nothing moved there; on a worker with idle cores the next steps are hashing in a worker pool, or dropping the ciphertext MD5 where the server reports SHA-256 checksums.',
  'Incompressible chunks cost a 64 KiB sample (zstd-1 over four 16 KiB slices), not a full compression (30–100 ms per 8 MiB chunk here): that is what keeps the adaptive path at plain\'s cost on random bytes.',
  'The text ratio is that of declaration files (the DOM\'s are very repetitive); prose would compress less (not measured here).',
  'Memory: an encrypted chunk in flight is its source buffer plus a recycled ciphertext buffer, a compressed one its source plus a smaller zstd frame, so the bound is 2 × chunk size × concurrency (64 MiB at the defaults); read-back holds one stored and one decoded chunk at a time.',
];
