// infra/services.sh from a private checkout (a clone in /root or a mktemp -d, mode 700, as root): PostgreSQL runs as
// the `postgres` user, who cannot traverse such a directory, yet every service must start, be reused on a second run,
// and never be shared with another checkout.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, realpath, rm, stat, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}


/** A checkout of just what services.sh needs, inside a fresh private (0700) directory. */
async function privateCheckout(): Promise<{ parent: string; repo: string }> {
  const parent = await mkdtemp(path.join(os.tmpdir(), 'private-clone-'));
  const repo = path.join(parent, 'p');
  await mkdir(path.join(repo, 'infra'), { recursive: true });
  for (const f of ['services.sh', 's3-server.mjs']) await copyFile(path.join(root, 'infra', f), path.join(repo, 'infra', f));
  await symlink(path.join(root, 'node_modules'), path.join(repo, 'node_modules'));
  return { parent, repo };
}

function services(repo: string, ports: number[], ...args: string[]): Promise<Run> {
  const [redis, pg, s3] = ports.map(String);
  return new Promise((resolve) => {
    execFile(
      'bash',
      [path.join(repo, 'infra/services.sh'), ...args],
      {
        // From inside the checkout, as the README commands run: su keeps this directory, which `postgres` cannot enter.
        cwd: repo,
        env: {
          ...process.env,
          PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}`,
          SERVICES_DIR: '',
          SERVICES_REDIS_PORT: redis,
          SERVICES_PG_PORT: pg,
          SERVICES_S3_PORT: s3,
        },
        timeout: 180_000,
      },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function exported(stdout: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m?.[1] && m[2] !== undefined) env[m[1]] = m[2];
  }
  return env;
}

describe('infra/services.sh in a private checkout', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  it('starts Redis, PostgreSQL and S3 from a mode-700 directory, reuses them, and refuses another checkout on its ports', async () => {
    const { parent, repo } = await privateCheckout();
    expect((await stat(parent)).mode & 0o777).toBe(0o700);
    const ports = [await freePort(), await freePort(), await freePort()];
    const dir = path.join(repo, '.data/services');
    cleanups.push(async () => {
      const pgData = (await readFile(path.join(dir, 'pg-data-dir'), 'utf8').catch(() => '')).trim();
      await services(repo, ports, '--stop');
      if (pgData) await rm(path.dirname(pgData), { recursive: true, force: true });
      await rm(parent, { recursive: true, force: true });
    });

    const first = await services(repo, ports, '--env');
    expect(first.stderr).not.toMatch(/Permission denied/);
    expect(first.code, first.stderr).toBe(0);
    const env = exported(first.stdout);
    expect(env.DATABASE_URL).toBe(`postgres://postgres@127.0.0.1:${ports[1]}/ingest`);

    const sql = postgres(env.DATABASE_URL!, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql<{ dir: string }[]>`select current_setting('data_directory') as dir`;
      expect(row?.dir).toBe((await readFile(path.join(dir, 'pg-data-dir'), 'utf8')).trim());
    } finally {
      await sql.end();
    }
    const redis = new Redis(env.REDIS_URL!, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      expect(await redis.config('GET', 'dir')).toEqual(['dir', path.join(await realpath(dir), 'redis')]);
    } finally {
      redis.disconnect();
    }
    expect((await fetch(`${env.S3_ENDPOINT}/${env.S3_BUCKET}`)).status).toBe(200);

    const second = await services(repo, ports, '--env');
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/redis already up/);
    expect(second.stderr).toMatch(/postgres already up/);
    expect(second.stderr).toMatch(/s3 already up/);

    // Another private clone pointed at the same ports must not share the first one's services.
    const other = await privateCheckout();
    cleanups.push(() => rm(other.parent, { recursive: true, force: true }));
    const foreign = await services(other.repo, ports, '--env');
    expect(foreign.code).not.toBe(0);
    expect(foreign.stderr).toMatch(/belongs to another checkout/);
  });
});
