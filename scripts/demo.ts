// The main job: generate a large file, run producer + worker as real processes, ingest the file through the CLI
// with a progress bar, run the janitor once, read the stored document back and compare it byte for byte.
// Options (environment): DEMO_SIZE_MIB (default 256), DEMO_DIR (default .data/demo).
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ROOT as root, demoProcesses, exited, freePort, waitHealthy } from './lib/demo-processes.ts';

const sizeMiB = Number(process.env.DEMO_SIZE_MIB ?? 256);
const dir = path.resolve(process.env.DEMO_DIR ?? path.join(root, '.data/demo'));
const sources = path.join(dir, 'sources');
const { start, stopAll } = demoProcesses('demo');

function log(line: string): void {
  process.stdout.write(`[demo] ${line}\n`);
}

/** Random bytes, 8 MiB at a time, so generating the file never holds it in memory. */
async function generate(file: string, bytes: number): Promise<void> {
  if (existsSync(file) && (await stat(file)).size === bytes) return;
  log(`generating ${file} (${bytes / 1024 / 1024} MiB of random bytes)`);
  const block = 8 * 1024 * 1024;
  let left = bytes;
  await pipeline(
    Readable.from(
      (function* () {
        while (left > 0) {
          const n = Math.min(block, left);
          left -= n;
          yield randomBytes(n);
        }
      })(),
    ),
    createWriteStream(file),
  );
}

async function generateText(file: string): Promise<void> {
  if (existsSync(file)) return;
  const words = ['saga', 'chunk', 'manifest', 'compensation', 'ingest', 'vector', 'graph', 'relational', 'janitor', 'lease', 'outbox'];
  let paragraphs = 2000;
  await pipeline(
    Readable.from(
      (function* () {
        while (paragraphs-- > 0) yield `${Array.from({ length: 120 }, (_, i) => words[(i * 7 + paragraphs) % words.length]).join(' ')}.\n\n`;
      })(),
    ),
    createWriteStream(file),
  );
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function main(): Promise<number> {
  await mkdir(sources, { recursive: true });
  const fileName = `large-${sizeMiB}MiB.bin`;
  const file = path.join(sources, fileName);
  await generate(file, sizeMiB * 1024 * 1024);
  await generateText(path.join(sources, `${fileName}.txt`));

  const token = randomBytes(24).toString('hex');
  const port = await freePort();
  const metricsPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SOURCE_ROOT: sources,
    INTERNAL_TOKEN: token,
    PORT: String(port),
    METRICS_PORT: String(metricsPort),
    QUEUE_PREFIX: `demo${randomBytes(3).toString('hex')}`,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    PRODUCER_URL: `http://127.0.0.1:${port}`,
  };
  log(`starting producer on :${port} and a worker (metrics on :${metricsPort})`);
  start('producer', 'apps/producer/src/main.ts', env);
  start('worker', 'apps/worker/src/main.ts', env);
  await waitHealthy(`http://127.0.0.1:${port}/healthz`, 'producer');
  await waitHealthy(`http://127.0.0.1:${metricsPort}/healthz`, 'worker');

  const expected = await sha256File(file);
  log(`enqueueing ${fileName} through the CLI and waiting (sha256 ${expected.slice(0, 16)}…)`);
  const began = Date.now();
  const cli = start('cli', 'apps/producer/src/cli.ts', env, ['enqueue', fileName, '--title', 'Demo document', '--text-path', `${fileName}.txt`, '--wait'], true);
  let sagaId = '';
  cli.stdout?.on('data', (d: Buffer) => {
    process.stdout.write(d);
    const m = /"sagaId":"([0-9a-f-]{36})"/.exec(d.toString());
    if (m?.[1] && !sagaId) sagaId = m[1];
  });
  const cliCode = await exited(cli);
  const seconds = (Date.now() - began) / 1000;

  log('running the janitor once');
  const janitor = start('janitor', 'apps/janitor/src/main.ts', env, [], true);
  janitor.stdout?.on('data', (d: Buffer) => process.stdout.write(d));
  const janitorCode = await exited(janitor);

  const headers = { 'x-internal-token': token };
  const status = (await (await fetch(`http://127.0.0.1:${port}/v1/sagas/${sagaId}`, { headers })).json()) as { status: string; documentId: string | null; errors: string[] };
  let readBack = 'not read';
  if (status.documentId) {
    const res = await fetch(`http://127.0.0.1:${port}/v1/documents/${status.documentId}/content`, { headers });
    const h = createHash('sha256');
    for await (const chunk of Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>)) h.update(chunk as Buffer);
    readBack = h.digest('hex') === expected ? 'byte-identical' : 'DIFFERENT';
  }
  const mib = sizeMiB;
  const rows = [
    ['file', `${fileName} (${mib} MiB)`],
    ['saga', sagaId || '(none)'],
    ['status', status.status],
    ['document', status.documentId ?? '(none)'],
    ['content read back', readBack],
    ['time (enqueue → end)', `${seconds.toFixed(1)} s`],
    ['throughput', `${(mib / seconds).toFixed(1)} MiB/s end to end`],
    ['janitor exit code', String(janitorCode)],
  ];
  process.stdout.write(`\n${rows.map(([k, v]) => `${k!.padEnd(22)} ${v}`).join('\n')}\n`);
  if (status.errors.length > 0) process.stdout.write(`errors: ${status.errors.join('; ')}\n`);
  return cliCode === 0 && status.status === 'completed' && readBack === 'byte-identical' && janitorCode === 0 ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  process.stderr.write(`[demo] failed: ${err instanceof Error ? err.stack : String(err)}\n`);
} finally {
  await stopAll();
}
process.exit(code);
