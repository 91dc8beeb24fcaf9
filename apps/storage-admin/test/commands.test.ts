// `npm run recover` and `npm run rotate-keys` as operators run them: real processes over the real bucket. Recovery
// runs with PostgreSQL and Redis unreachable (their URLs point at a closed port): the bucket and the keys suffice.
import { createHash, randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IngestRuntime, IngestionStatus } from '@ingest/ingest';
import { createTestEnv, type TestEnv } from '@ingest/ingest/testing';
import { spawnProcess, stopAllProcesses, waitFor } from '@ingest/testkit';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const oldKey = randomBytes(32).toString('base64');
const newKey = randomBytes(32).toString('base64');
let t: TestEnv;
let rt: IngestRuntime;
let closedUrl: { postgres: string; redis: string };

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function run(main: string, args: string[], extra: Record<string, string>): Promise<{ code: number | null; lines: string[] }> {
  const proc = await spawnProcess(process.execPath, ['--import', 'tsx', path.join(ROOT, 'apps/storage-admin/src', main), ...args], {
    cwd: ROOT,
    env: { ...t.env, LOG_LEVEL: 'warn', ...extra },
    name: main,
  });
  const exit = await proc.exited;
  return { code: exit.code, lines: proc.output() };
}

/** The bucket alone: PostgreSQL and Redis unreachable. */
const withoutDatabase = (keys: string, active: string) => ({ DATABASE_URL: closedUrl.postgres, REDIS_URL: closedUrl.redis, ENCRYPTION_KEYS: keys, ENCRYPTION_ACTIVE_KEY_ID: active });

async function ingest(name: string, bytes: Buffer, securityLevel: string): Promise<IngestionStatus> {
  await t.writeSource(name, bytes);
  const { sagaId } = await rt.submit({ filePath: name, metadata: { title: `Title of ${name}`, securityLevel } });
  let status: IngestionStatus | undefined;
  await waitFor(async () => {
    status = await rt.status(sagaId);
    return status.status !== 'running' && status.status !== 'compensating';
  }, { timeoutMs: 90_000, what: `saga ${sagaId} to end` });
  return status!;
}

beforeAll(async () => {
  t = await createTestEnv({ ENCRYPTION_KEYS: `old:${oldKey}`, ENCRYPTION_ACTIVE_KEY_ID: 'old', CHUNK_SIZE_BYTES: String(5 * 1024 * 1024) });
  rt = await t.runtime();
  await rt.startWorkers({ concurrency: 2 });
  const port = await closedPort();
  closedUrl = { postgres: `postgres://postgres@127.0.0.1:${port}/ingest`, redis: `redis://127.0.0.1:${port}` };
});
afterEach(async () => {
  expect(await stopAllProcesses()).toEqual([]);
});
afterAll(async () => {
  await t?.close();
});

describe('recover and rotate-keys', () => {
  it('recovers an encrypted document from the bucket alone, rotates its key, and recovers it again under the new key only', async () => {
    const text = Buffer.from('Minutes of the board. '.repeat(600_000));
    const status = await ingest('board.txt', text, 'restricted');
    expect(status.status).toBe('completed');
    const sha256 = createHash('sha256').update(text).digest('hex');
    const out = path.join(t.sourceRoot, 'recovered-1.txt');

    const first = await run('recover-main.ts', [status.sagaId, out], withoutDatabase(`old:${oldKey}`, 'old'));
    expect(first.code).toBe(0);
    const result = JSON.parse(first.lines.at(-1)!) as Record<string, unknown>;
    expect(result).toMatchObject({ recovered: true, documentId: status.documentId, bytes: text.length, sha256, chunks: 3, encrypted: true, metadata: { title: 'Title of board.txt' } });
    expect((await readFile(out)).equals(text)).toBe(true);

    // Rotation needs the database; afterwards the old key can be retired.
    const rotated = await run('rotate-keys-main.ts', [], { ENCRYPTION_KEYS: `old:${oldKey},new:${newKey}`, ENCRYPTION_ACTIVE_KEY_ID: 'new' });
    expect(rotated.code).toBe(0);
    expect(JSON.parse(rotated.lines.at(-1)!)).toMatchObject({ activeKeyId: 'new', rewrapped: 1, manifestObjectsRewritten: 1, failed: [] });

    const out2 = path.join(t.sourceRoot, 'recovered-2.txt');
    const second = await run('recover-main.ts', [status.documentId!, out2], withoutDatabase(`new:${newKey}`, 'new'));
    expect(second.code).toBe(0);
    expect((await readFile(out2)).equals(text)).toBe(true);

    // With only the retired key: KEY_UNAVAILABLE, nothing written, no key material printed.
    const out3 = path.join(t.sourceRoot, 'recovered-3.txt');
    const refused = await run('recover-main.ts', [status.sagaId, out3], withoutDatabase(`old:${oldKey}`, 'old'));
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.lines.at(-1)!)).toMatchObject({ recovered: false, code: 'KEY_UNAVAILABLE' });
    expect(refused.lines.join('\n')).not.toContain(oldKey);
    await expect(stat(out3)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('answers usage errors with exit 2 and an unknown document with exit 1', async () => {
    expect((await run('recover-main.ts', ['only-one-arg'], withoutDatabase(`old:${oldKey}`, 'old'))).code).toBe(2);
    const missing = await run('recover-main.ts', ['chunks/no-such-operation/', path.join(t.sourceRoot, 'x')], withoutDatabase(`old:${oldKey}`, 'old'));
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.lines.at(-1)!)).toMatchObject({ recovered: false, code: 'OPERATION_NOT_FOUND' });
  });
});
