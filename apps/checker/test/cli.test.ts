// The checker CLI as operators run it: a real process over a real database and bucket; exit 0 when consistent,
// 1 with one line per violation (kind first, then ids), --json for machines, 2 when it cannot check at all.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, migrateIngestSchema, type InvariantReport } from '@ingest/ingest';
import { createTestDatabase, randomId, requireEnv, spawnProcess, stopAllProcesses, type TestDatabase } from '@ingest/testkit';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const MAIN = path.join(ROOT, 'apps/checker/src/main.ts');
let db: TestDatabase;
let env: Record<string, string>;
let s3: S3Client;
const bucket = `chk-${randomId()}`;

async function check(args: string[] = [], extra: Record<string, string> = {}): Promise<{ code: number | null; lines: string[] }> {
  const proc = await spawnProcess(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env: { ...env, ...extra }, name: 'checker' });
  const exit = await proc.exited;
  return { code: exit.code, lines: proc.output() };
}

beforeAll(async () => {
  db = await createTestDatabase('checker');
  env = {
    DATABASE_URL: db.url,
    REDIS_URL: requireEnv('REDIS_URL'),
    S3_ENDPOINT: requireEnv('S3_ENDPOINT'),
    S3_BUCKET: bucket,
    S3_ACCESS_KEY_ID: requireEnv('S3_ACCESS_KEY_ID'),
    S3_SECRET_ACCESS_KEY: requireEnv('S3_SECRET_ACCESS_KEY'),
    QUEUE_PREFIX: `chk${randomId()}`,
    LOG_LEVEL: 'warn',
  };
  s3 = new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: env.S3_ACCESS_KEY_ID!, secretAccessKey: env.S3_SECRET_ACCESS_KEY! },
  });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  // `npm run migrate` creates the tables; the checker itself never writes.
  await migrateIngestSchema(loadConfig(env));
});
afterEach(async () => {
  expect(await stopAllProcesses()).toEqual([]);
});
afterAll(async () => {
  await db?.drop();
  s3?.destroy();
});

describe('checker CLI', () => {
  it('exits 0 with a summary line when the world is consistent', async () => {
    const { code, lines } = await check();
    expect(lines).toEqual([expect.stringMatching(/^consistent: no violations; scanned 0 sagas/)]);
    expect(code).toBe(0);
  });

  it('prints one line per violation, kind first, then exits 1; --json prints the report', async () => {
    const op = randomUUID();
    const key = `chunks/${op}/00000000`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.from('stray') }));
    try {
      const text = await check();
      expect(text.lines).toEqual([
        `orphan_chunks operation=${op} saga=- saga_status=- objects=1 keys=${key}`,
        expect.stringMatching(/^1 violation\(s\): orphan_chunks=1; scanned 0 sagas .* 1 objects in 1 operations/),
      ]);
      expect(text.code).toBe(1);

      const json = await check(['--json']);
      const report = JSON.parse(json.lines.join('\n')) as InvariantReport;
      expect(report).toMatchObject({ ok: false, violationCount: 1, byKind: { orphan_chunks: 1 }, violations: [{ kind: 'orphan_chunks', operationId: op }] });
      expect(json.code).toBe(1);
    } finally {
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    }
  });

  it('exits 2 naming the problem when it cannot check (no such bucket)', async () => {
    const { code, lines } = await check([], { S3_BUCKET: `missing-${randomId()}` });
    expect(lines.join('\n')).toMatch(/^checker: could not check: /m);
    expect(code).toBe(2);
  });

  it('exits 2 on a bad flag', async () => {
    const { code, lines } = await check(['--grace-seconds', '-1']);
    expect(lines.join('\n')).toMatch(/--grace-seconds.*must be a whole number >= 0/);
    expect(code).toBe(2);
  });
});
