// Migrations as their own release step, with real processes: an app started on an unmigrated database exits 1 naming
// the expected and found versions and the command to run; `npm run migrate` applies the schema (idempotently), and
// the same app then starts. A schema ahead of the app (a newer fleet's additive migrations) is accepted.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '@ingest/ingest/testing';
import { createTestDatabase, spawnProcess, stopAllProcesses, type TestDatabase } from '@ingest/testkit';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const src = (app: string, main: string): string => path.join(ROOT, 'apps', app, 'src', `${main}.ts`);
let t: TestEnv;
let db: TestDatabase;
let env: Record<string, string>;

beforeAll(async () => {
  t = await createTestEnv({ METRICS_PORT: '0', PORT: '0' });
  // A database nobody migrated: the environment's own one was migrated by createTestEnv.
  db = await createTestDatabase('unmigrated');
  env = { ...t.env, DATABASE_URL: db.url };
});
afterEach(async () => {
  expect(await stopAllProcesses()).toEqual([]);
});
afterAll(async () => {
  await t?.close();
  await db?.drop();
});

async function run(app: string, main: string, args: string[] = []): Promise<{ code: number | null; lines: string[] }> {
  const proc = await spawnProcess(process.execPath, ['--import', 'tsx', src(app, main), ...args], { cwd: ROOT, env, name: `${app}-${main}` });
  const exit = await proc.exited;
  return { code: exit.code, lines: proc.output() };
}

describe('npm run migrate, and apps that only check the schema', () => {
  it('worker, producer, janitor and checker refuse an unmigrated database with SCHEMA_OUTDATED; after migrate the worker starts', async () => {
    const expected = /saga-core schema of DATABASE_URL is at version 0, this app expects version [1-9]\d* \(\d{4}_\w+\): run `npm run migrate/;
    for (const [app, main, code] of [
      ['worker', 'main', 1],
      ['producer', 'main', 1],
      ['janitor', 'main', 1],
      ['checker', 'main', 2],
    ] as const) {
      const r = await run(app, main);
      expect(r.code, `${app}: ${r.lines.join('\n')}`).toBe(code);
      expect(r.lines.join('\n'), app).toMatch(expected);
    }
    // Nothing was created behind the operator's back.
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from pg_tables where tablename like 'saga%' or tablename = 'documents'`;
      expect(row?.n).toBe(0);
    } finally {
      await sql.end();
    }

    const first = await run('storage-admin', 'migrate-main');
    expect(first.code, first.lines.join('\n')).toBe(0);
    const reports = first.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { setting: string; component: string; version: number });
    expect(reports.map((r) => `${r.setting}:${r.component}`).sort()).toEqual(['DATABASE_URL:saga-core', 'DATABASE_URL:storage']);
    expect(reports.every((r) => r.version >= 1)).toBe(true);
    // Running it again (a second release with no schema change, or two Jobs at once) finds nothing to do.
    const [again, concurrent] = await Promise.all([run('storage-admin', 'migrate-main'), run('storage-admin', 'migrate-main')]);
    expect([again.code, concurrent.code]).toEqual([0, 0]);

    const worker = await spawnProcess(process.execPath, ['--import', 'tsx', src('worker', 'main')], { cwd: ROOT, env, name: 'worker-migrated' });
    await worker.waitForOutput(/"msg":"worker ready"/, 60_000);
    worker.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
  });

  it('a schema ahead of the app (a newer fleet applied an additive migration) is accepted, and said so', async () => {
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      // What a newer release's migrate step leaves: one more recorded migration, newer than any this build knows.
      await sql`insert into drizzle.__saga_core_migrations (hash, created_at) values ('from-a-newer-release', ${String(Date.now() + 10 ** 12)})`;
    } finally {
      await sql.end();
    }
    const worker = await spawnProcess(process.execPath, ['--import', 'tsx', src('worker', 'main')], { cwd: ROOT, env, name: 'worker-older' });
    await worker.waitForOutput(/schema is ahead of this build; accepted/, 60_000);
    await worker.waitForOutput(/"msg":"worker ready"/, 60_000);
    worker.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
  });
});
