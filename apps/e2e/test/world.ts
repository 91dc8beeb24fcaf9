// One end-to-end test file's world: its own database, bucket, queue prefix and SOURCE_ROOT, an S3 fault proxy in
// front of the bucket, and the real apps (producer, workers, janitor) spawned as processes on that environment.
// Faults are injected at the proxy or on the file system, never inside the apps.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsCommand, S3Client } from '@aws-sdk/client-s3';
import postgres, { type Sql } from 'postgres';
import { checkInvariants, connectInvariantDeps, loadConfig, type InvariantReport, type JanitorSummary } from '@ingest/ingest';
import {
  createTestDatabase,
  flushPrefix,
  randomId,
  requireEnv,
  spawnProcess,
  startS3FaultProxy,
  type ProcessExit,
  type S3FaultProxy,
  type TestDatabase,
  type TestProcess,
} from '@ingest/testkit';
import { connectProducer, type ProducerApi } from './producer-api.ts';

/** The repository root, where the apps' entry points are spawned from. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

// The end-to-end suite runs the compiled apps (`npm run build`), as a deployment does: plain node, no tsx.
const MAIN = {
  producer: path.join(REPO_ROOT, 'apps/producer/dist/main.js'),
  worker: path.join(REPO_ROOT, 'apps/worker/dist/main.js'),
  janitor: path.join(REPO_ROOT, 'apps/janitor/dist/main.js'),
  migrate: path.join(REPO_ROOT, 'apps/storage-admin/dist/migrate-main.js'),
};

/** Bytes in a MiB. */
export const MiB = 1024 * 1024;

/** A saga's identifiers: the API reports operationId, the document id is in the saga's stored input. */
export interface SagaIds {
  sagaId: string;
  documentId: string;
  operationId: string;
}

/** What a janitor process did: its exit and the JSON summary it printed. */
export interface JanitorRun {
  exit: ProcessExit;
  summary: JanitorSummary | undefined;
  output: string[];
}

/** A running producer process and a client for its API. */
export interface RunningProducer {
  proc: TestProcess;
  api: ProducerApi;
}

/** The world of one test file; see createE2eWorld. */
export interface E2eWorld {
  readonly sourceRoot: string;
  readonly bucket: string;
  readonly token: string;
  /** The test file's database (saga state, manifests and every downstream store). */
  readonly sql: Sql;
  /** Straight to the S3 server, bypassing the fault proxy: what the server really stores. */
  readonly s3: S3Client;
  /** Workers and the janitor reach S3 only through this proxy. */
  readonly s3Proxy: S3FaultProxy;
  /** Settings of worker and janitor processes (S3 through the proxy). */
  readonly env: Readonly<Record<string, string>>;
  /** Writes a file under SOURCE_ROOT (random bytes when given a size) and returns its bytes. */
  writeSource(relativePath: string, content: number | Buffer | string): Promise<Buffer>;
  /** Absolute path of a file under SOURCE_ROOT. */
  sourcePath(relativePath: string): string;
  startProducer(): Promise<RunningProducer>;
  /** Starts a worker process and waits for "worker ready". */
  startWorker(name: string, extra?: Record<string, string>): Promise<TestProcess>;
  /** Starts a worker process without waiting for it to be ready. */
  spawnWorker(name: string, extra?: Record<string, string>): Promise<TestProcess>;
  /** Runs one janitor pass as a process and waits for it to exit. */
  runJanitor(): Promise<JanitorRun>;
  /** Reads the saga's document and operation ids from its stored input. */
  idsOf(sagaId: string): Promise<SagaIds>;
  /** Keys the server stores under the operation's chunk prefix, sorted. */
  storedChunkKeys(operationId: string): Promise<string[]>;
  /** Manifest keys (upload_chunks) of the operation, in chunk order. */
  manifestKeys(operationId: string): Promise<string[]>;
  /** Rows and objects that still belong to the document or its upload; see NOTHING_LEFT. */
  leftoversOf(ids: SagaIds): Promise<Record<string, number>>;
  /** The consistency checker over this world (saga state, bucket, every store), reading the server directly. */
  checkConsistency(): Promise<InvariantReport>;
  /** Stops nothing but the world itself: drops the database, the bucket, the queue keys and SOURCE_ROOT. */
  close(): Promise<void>;
}

/** The shape of "nothing of this document is left anywhere". */
export const NOTHING_LEFT = { documents: 0, vectorChunks: 0, graphNodes: 0, graphEdges: 0, securityRecords: 0, manifestRows: 0, s3Objects: 0 };

/** How the apps reach the world's services, when not directly. */
export interface E2eWorldOptions {
  /** The apps' DATABASE_URL for the world's database URL (through PgBouncer, say); the world itself connects directly. */
  routeDatabase?: (directUrl: string) => string;
}

/**
 * Creates the world. `settings` override the defaults, which are small so that failures end in seconds: 5 MiB chunks,
 * two upload attempts, two store and compensation attempts, 100 ms backoffs and a 3 s step lease.
 */
export async function createE2eWorld(settings: Record<string, string> = {}, options: E2eWorldOptions = {}): Promise<E2eWorld> {
  const db: TestDatabase = await createTestDatabase('e2e');
  const sql = postgres(db.url, { max: 4, onnotice: () => {} });
  const sourceRoot = await mkdtemp(path.join(tmpdir(), 'e2e-src-'));
  const bucket = `e2e-${randomId()}`;
  const s3Endpoint = requireEnv('S3_ENDPOINT');
  const credentials = { accessKeyId: requireEnv('S3_ACCESS_KEY_ID'), secretAccessKey: requireEnv('S3_SECRET_ACCESS_KEY') };
  const s3 = new S3Client({
    endpoint: s3Endpoint,
    region: requireEnv('S3_REGION'),
    forcePathStyle: true,
    credentials,
    // s3rver does not understand the SDK's default aws-chunked checksum trailers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const s3Proxy = await startS3FaultProxy({ target: s3Endpoint });
  const redisUrl = requireEnv('REDIS_URL');
  const queuePrefix = `e2e${randomId()}`;
  const token = `e2e-token-${randomBytes(16).toString('hex')}`;
  const base: Record<string, string> = {
    REDIS_URL: redisUrl,
    DATABASE_URL: options.routeDatabase?.(db.url) ?? db.url,
    S3_REGION: requireEnv('S3_REGION'),
    S3_BUCKET: bucket,
    S3_ACCESS_KEY_ID: credentials.accessKeyId,
    S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    S3_FORCE_PATH_STYLE: 'true',
    SOURCE_ROOT: sourceRoot,
    QUEUE_PREFIX: queuePrefix,
    INTERNAL_TOKEN: token,
    PORT: '0',
    METRICS_PORT: '0',
    LOG_LEVEL: 'info',
    CHUNK_SIZE_BYTES: String(5 * MiB),
    UPLOAD_CONCURRENCY: '1',
    MAX_RESUME_ATTEMPTS: '2',
    RESUME_RETRY_DELAY_MS: '200',
    STORE_RETRY_ATTEMPTS: '2',
    STORE_RETRY_BACKOFF_MS: '100',
    COMPENSATION_RETRY_ATTEMPTS: '2',
    STEP_LEASE_MS: '3000',
    EMBEDDING_DIMENSIONS: '32',
    WORKER_CONCURRENCY: '2',
    // Confidential documents are always encrypted: every world has a key-encryption key of its own.
    ENCRYPTION_KEYS: `e2e-kek:${randomBytes(32).toString('base64')}`,
    ENCRYPTION_ACTIVE_KEY_ID: 'e2e-kek',
    ...settings,
  };
  const env = { ...base, S3_ENDPOINT: s3Proxy.endpoint };
  // The producer reads content back straight from the server, so a fault rule meant for a worker never hits it.
  const producerEnv = { ...base, S3_ENDPOINT: s3Endpoint };
  const node = (main: string, args: string[], processEnv: Record<string, string>, name: string): Promise<TestProcess> =>
    existsSync(main)
      ? spawnProcess(process.execPath, [main, ...args], { cwd: REPO_ROOT, env: processEnv, name })
      : Promise.reject(new Error(`${main} is missing: run \`npm run build\` first (the test command does)`));
  // The release's migrate step (npm run migrate, the Kubernetes Job), compiled, before any app starts: apps only check.
  const migrator = await node(MAIN.migrate, [], env, 'migrate');
  const migrated = await migrator.exited;
  if (migrated.code !== 0) throw new Error(`migrate exited ${migrated.code}: ${migrator.output().join('\n')}`);

  const listKeys = async (prefix: string): Promise<string[]> => {
    const keys: string[] = [];
    let marker: string | undefined;
    for (;;) {
      const page = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: prefix, Marker: marker }));
      const found = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [o.Key]));
      keys.push(...found);
      const last = found[found.length - 1];
      if (!page.IsTruncated || last === undefined) return keys.sort();
      marker = last;
    }
  };

  const world: E2eWorld = {
    sourceRoot,
    bucket,
    token,
    sql,
    s3,
    s3Proxy,
    env,
    async writeSource(relativePath, content) {
      const bytes = typeof content === 'number' ? randomBytes(content) : Buffer.from(content);
      const full = world.sourcePath(relativePath);
      await mkdir(path.dirname(full), { recursive: true });
      await writeFile(full, bytes);
      return bytes;
    },
    sourcePath: (relativePath) => path.join(sourceRoot, relativePath),
    async startProducer() {
      const proc = await node(MAIN.producer, [], producerEnv, 'producer');
      const listening = await proc.waitForOutput(/"msg":"producer listening"/, 90_000);
      const { address } = JSON.parse(listening.line) as { address: string };
      return { proc, api: connectProducer(address, token) };
    },
    async startWorker(name, extra = {}) {
      const proc = await world.spawnWorker(name, extra);
      await proc.waitForOutput(/"msg":"worker ready"/, 90_000);
      return proc;
    },
    spawnWorker: (name, extra = {}) => node(MAIN.worker, [], { ...env, ...extra }, name),
    async runJanitor() {
      const proc = await node(MAIN.janitor, [], env, 'janitor');
      const exit = await proc.exited;
      const output = proc.output();
      // The pass prints a summary line, then the JSON summary on the next line.
      const at = output.findIndex((l) => l.startsWith('janitor pass: '));
      const json = at === -1 ? undefined : output[at + 1];
      return { exit, summary: json === undefined ? undefined : (JSON.parse(json) as JanitorSummary), output };
    },
    async idsOf(sagaId) {
      const [row] = await sql<{ documentId: string; operationId: string }[]>`
        select input->>'documentId' as "documentId", input->>'operationId' as "operationId" from saga_instances where id = ${sagaId}`;
      if (!row) throw new Error(`no saga ${sagaId} in the database`);
      return { sagaId, ...row };
    },
    storedChunkKeys: (operationId) => listKeys(`chunks/${operationId}/`),
    async manifestKeys(operationId) {
      const rows = await sql<{ key: string }[]>`select key from upload_chunks where operation_id = ${operationId} order by chunk_index`;
      return rows.map((r) => r.key);
    },
    async leftoversOf(ids) {
      const count = async (q: Promise<{ n: number }[]>): Promise<number> => (await q)[0]?.n ?? 0;
      return {
        documents: await count(sql`select count(*)::int as n from documents where id = ${ids.documentId}`),
        vectorChunks: await count(sql`select count(*)::int as n from vector_chunks where document_id = ${ids.documentId}`),
        graphNodes: await count(sql`select count(*)::int as n from graph_nodes where id = ${ids.documentId}`),
        graphEdges: await count(sql`select count(*)::int as n from graph_edges where document_id = ${ids.documentId}`),
        securityRecords: await count(sql`select count(*)::int as n from security_records where document_id = ${ids.documentId}`),
        manifestRows: await count(sql`select count(*)::int as n from upload_chunks where operation_id = ${ids.operationId}`),
        s3Objects: (await world.storedChunkKeys(ids.operationId)).length,
      };
    },
    async checkConsistency() {
      const deps = connectInvariantDeps(loadConfig(producerEnv));
      try {
        return await checkInvariants(deps);
      } finally {
        await deps.close();
      }
    },
    async close() {
      await s3Proxy.close();
      const keys = await listKeys('');
      for (let i = 0; i < keys.length; i += 1000) {
        await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })) } }));
      }
      await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
      s3.destroy();
      await sql.end();
      await db.drop();
      await flushPrefix(redisUrl, queuePrefix);
      await rm(sourceRoot, { recursive: true, force: true });
    },
  };
  return world;
}
